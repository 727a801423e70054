// Path prefixes with their own body handling, shared by the middlewares.

/** Node-to-node RPC: signed with the cluster secret, refused unsigned before the body is read. */
export const PEER_PREFIXES = ["/v1/cluster/", "/v1/raft/"];

/** Routes whose handlers stream the body on and bound it themselves (the invoke proxy). */
export const STREAMED_PREFIXES = ["/v1/invoke/"];
