// The port variables of a container task in its allocation's own network,
// pure. Inside, the program listens on the container's port (`to`, else the
// allocated number itself); others reach it at the node's address and the
// allocated host port. So, as Nomad's NOMAD_PORT_<label> and
// NOMAD_HOST_PORT_<label>: CORRAL_PORT_<label> is the container's port,
// CORRAL_HOST_PORT_<label> the node's, CORRAL_ADDR_<label> stays the
// node's address and host port (what a client of the service dials).
import { envLabel, type PortAssignment, type Task } from "../../core/sdk/index.ts";
import type { PortMap } from "./port-proxy.ts";

export function containerPortEnv(task: Pick<Task, "name" | "ports">, ports: readonly PortAssignment[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of containerPortMaps(task, ports)) {
    const l = envLabel(m.label);
    env[`CORRAL_PORT_${l}`] = String(m.containerPort);
    env[`CORRAL_HOST_PORT_${l}`] = String(m.hostPort);
  }
  return env;
}

/** The task's host ports and the container ports they are proxied to. */
export function containerPortMaps(task: Pick<Task, "name" | "ports">, ports: readonly PortAssignment[]): (PortMap & { label: string })[] {
  return ports
    .filter((p) => p.task === task.name && task.ports[p.label] !== undefined)
    .map((p) => ({ label: p.label, hostPort: p.value, containerPort: task.ports[p.label]!.to ?? p.value }));
}
