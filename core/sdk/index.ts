// The plugin SDK: the one surface of core that plugins import, built-in and
// external alike (test/structure/imports.test.ts fails on a plugin importing
// core anywhere else, and on core importing a plugin outside the built-in
// list core/plugins/builtin.ts).
//
// It only re-exports: each name stays defined where core uses it, so this
// file is the list of what plugins may rely on. Adding a name here is a
// promise to external plugins; prefer the narrowest thing that serves.

// ---- The plugin contract: what a plugin exports and the context it is given.

export type { Logger } from "../log.ts";
export { abortableSleep, watchLoop, watchRemote } from "../plugins/blocking-watch.ts";
export { announce, announcement, channel, follow, listen, send } from "../plugins/channel.ts";
export type { Announcement, Channel } from "../plugins/channel.ts";
export type { FastHistogram, HistogramChild } from "../plugins/histogram.ts";
export { LruCacheDir, type LruCacheDirOptions } from "../plugins/lru-cache-dir.ts";
export type { MetricsRegistry } from "../plugins/metrics.ts";
export type { Closeable, EventSubscription, HostInfo, PluginContext, PluginHandle, PluginModule, AppliedProposal, RegistrationFacts, RegistrationInput, RouteHandler, RouteOptions, TimerHandle } from "../plugins/types.ts";

// ---- HTTP: route schemas, errors as `{ error, code }`, bodies, Consul conventions, proxying.

export { errorResponses, jsonBody, jsonResponse } from "../api/schemas.ts";
export { isConsulPath } from "../http/consul-paths.ts";
export { assertDatacenter, blockingParams, checkDatacenter, consulMember, parseGoDurationMs, setConsulHeaders } from "../http/consul.ts";
export { ApiError, consulError, statusForCode } from "../http/errors.ts";
export { once, requestBody } from "../http/json-body.ts";
export { collectPage, pageHeaders, pageParams } from "../http/paging.ts";
export type { PageParams, ScanFrom } from "../http/paging.ts";
export { FORWARDED_HEADER, proxyRequest } from "../http/proxy.ts";
export { QueryCache, requestKey, type CachedAnswer } from "../http/query-cache.ts";
export { serve } from "../http/serve.ts";
export { isWebSocketUpgrade, upgradeWebSocket } from "../http/websocket-upgrade.ts";
export type { SessionSocket, WebSocketSession } from "../http/websocket-upgrade.ts";
export { BindError, bindError, hostPort } from "../net/bind-error.ts";

// ---- ACL: identities, permissions, read scopes, secrets, rules and intentions.

export { lateAuthorizer, requestIdentity } from "../acl/enforce.ts";
export type { LateAuthorizer } from "../acl/enforce.ts";
export { isNodeSigned } from "../acl/node-signature.ts";
export { arrayBy, checksMap, reads } from "../acl/filters.ts";
export { decidingIntention, precedence, validIntentionName } from "../acl/intentions.ts";
export { openReadScope, readScope } from "../acl/read-scope.ts";
export { cachedReadFast, type CachedReadFastDeps } from "../http/cached-read-fast.ts";
export { offerGzip, type GzippableAnswer } from "../http/gzip-answer.ts";
export type { FastRoute } from "../http/fast-route.ts";
export type { ReadScope } from "../acl/read-scope.ts";
export { AclUnavailableError } from "../acl/resolve.ts";
export { aclSettings, authzConfigSchema, settingsFromTable } from "../acl/settings.ts";
export type { AclSettings, AuthzConfig } from "../acl/settings.ts";
export { RulesError, parseRules } from "../acl/rules.ts";
export { MASKED_SECRET, bearerToken, hashSecret, headerToken, isUuid, newAccessorId, newSecret, requestToken } from "../acl/secret.ts";
export { ANONYMOUS_ACCESSOR, MANAGEMENT_POLICY_ID, SEGMENTED, UNSEGMENTED } from "../acl/types.ts";
export type { Authorizer, PermissionSpec, Resource, RoutePermission, SegmentHelpers, Target, Want } from "../acl/types.ts";

// ---- The service mesh's CA (core/connect, docs/mesh.md): SPIFFE IDs, and what host.meshCa answers.

export { parseSpiffeServiceId, spiffeServiceId, validServiceName } from "../connect/spiffe.ts";
export type { LeafWithKey, MeshCaAccess } from "../connect/access.ts";
export type { RootsView } from "../connect/ca.ts";

// ---- Config values: durations, sizes, bounded integers.

export { durationMs, formatDuration, parseDuration, parseGoDuration, sizeBytes } from "../config/duration.ts";
export { othersMayRead, untraversable } from "../config/file-access.ts";
export { goDurationMs, goDurationString } from "../config/go-duration.ts";
// ---- The host: its users, who a task runs as, the data dir's modes (exec tasks and exec checks).
export { parsePasswd, idRanges, taskIdentity, checkIdentity, type PasswdEntry, type AgentIdentity, type UserPolicy, type IdRange, type TaskIdentity } from "../host/users.ts";
export { readPasswd, agentIdentity } from "../host/host-users.ts";
export { closeDataDirToTasks, privateEntries, EXEC_ENTRY, MODE_PRIVATE_DIR, MODE_PRIVATE_FILE, MODE_TRAVERSE } from "../host/data-dir-modes.ts";
export { intIn } from "../config/schema.ts";

// ---- Health checks: Consul's http, tcp and grpc probes (the health plugin runs them
// for registered checks, exec for its job services), and the URLs a check may fetch.

export { httpCheckUrlError } from "../checks/check-url.ts";
export { DEFAULT_OUTPUT_MAX_BYTES, MAX_REDIRECTS, clip as clipCheckOutput, httpInit, httpProbe, httpStatus, tcpProbe, utf8Prefix } from "../checks/probes.ts";
export type { HttpProbeSpec, ProbeResult, TcpProbeSpec } from "../checks/probes.ts";
export { grpcProbe, grpcTargetText, parseGrpcTarget } from "../checks/grpc-probe.ts";
export type { GrpcProbeSpec } from "../checks/grpc-probe.ts";

// ---- Replicated state: commands, readers and the public types of their rows.

export type { Command } from "../state/commands.ts";
export type { TokenWithPolicies } from "../state/domains/acl-read.ts";
export { ANONYMOUS_SECRET_HASH } from "../state/domains/acl.ts";
export type { CatalogCheck, CatalogNode, CatalogReader, CatalogService, Indexed } from "../state/domains/catalog-read.ts";
export { CatalogServiceDef, CheckStatus, MAX_CHECKS_PER_NODE, MAX_CHECKS_PER_WRITE, MAX_CHECK_OUTPUT, MAX_META_PAIRS, MAX_SERVICES_PER_NODE, NODE_CHECKS_CAP, NODE_SERVICES_CAP, registrationDigest } from "../state/domains/catalog.ts";
export { stableJson } from "../stable-json.ts";
export type { CatalogCheckDef, NodeRef } from "../state/domains/catalog.ts";
export { taskServiceId } from "../state/domains/jobs-read.ts";
export type { StateReader } from "../state/reader.ts";
export type { WatchTopic } from "../state/watch.ts";
export { serviceCatalogTopics, serviceHealthTopics } from "../state/service-names-changed.ts";
export type { TaskState } from "../store/schema-jobs.ts";
export type { AclPolicyRow, IntentionRow } from "../store/schema.ts";

// ---- Jobs and tasks as the scheduler hands them to a client (exec).

export { hostVolumesOf } from "../scheduler/host-volumes.ts";
export type { HostVolumeConfig } from "../scheduler/host-volumes.ts";
export { runsToCompletion } from "../scheduler/index.ts";
export type { PortAssignment, RestartPolicy, ServiceCheck, Task, TaskArtifact, TaskGroup } from "../scheduler/index.ts";
export { INHERITED_ENV, allocVariables, envLabel, lookup as lookupReference, resolveTask } from "../scheduler/interpolate.ts";
export type { NodeFacts } from "../scheduler/interpolate.ts";
export { ISOLATED, ISOLATION_ATTRIBUTE, needsIsolation } from "../scheduler/isolation.ts";
export { isInsidePath } from "../scheduler/jobspec/task-storage.ts";
export { ROOT_USER, execAttributes, isPrivilegedTask, isRawTask } from "../scheduler/raw.ts";
export { tasksUpdated } from "../scheduler/update-kind.ts";
export { ALLOWED_SIGNALS, DEFAULT_SIGNAL, parseSignal } from "../scheduler/signals.ts";
export type { AllowedSignal } from "../scheduler/signals.ts";
export type { ChangeScript, TaskTemplate } from "../scheduler/index.ts";
// The container driver (plugins/container): image references as jobs write them, and its placement attributes.
export { DIGEST, formatImageRef, manifestReference, parseImageRef } from "../scheduler/image-ref.ts";
export type { ImageRef } from "../scheduler/image-ref.ts";
export { CONTAINER_USER_MAX, parseContainerUser } from "../scheduler/container-user.ts";
export type { ContainerUser, IdOrName } from "../scheduler/container-user.ts";
export { CONTAINER_RUNTIME_ATTRIBUTE, CONTAINER_VERSION_ATTRIBUTE } from "../scheduler/container.ts";
export {
  capabilitiesNotAllowed, capabilitySet, CONTAINER_CAPS_ATTRIBUTE, CONTAINER_PRIVILEGED_ATTRIBUTE, DEFAULT_CAPABILITIES,
  effectiveCapabilities, formatCapabilities, LINUX_CAPABILITIES,
} from "../scheduler/capabilities.ts";
export type { ContainerSpec } from "../scheduler/jobspec/types.ts";
// Task templates (plugins/exec/templates): the engine core validates job specs with, and the data it reads.
export { createEngine, depId, MissingData, NotFetched, TEMPLATE_LIMITS } from "../templates/engine.ts";
export { prepareTemplateData, refVariable } from "../templates/data-refs.ts";
export type { DepValue, KvPair, ServiceEntry, TemplateDep } from "../templates/engine.ts";
