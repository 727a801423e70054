// The pure parts of the container network: subnets, kernel names, port variables.
import { describe, expect, test } from "bun:test";
import { netNames, pickSubnet, subnetAt, SUBNET_COUNT } from "../../plugins/container/subnet.ts";
import { containerPortEnv, containerPortMaps } from "../../plugins/container/port-env.ts";

describe("container network, pure", () => {
  test("a /30 per allocation in 10.213.0.0/16: the node's end .1, the container's .2; stable per id, the next free one on collision", () => {
    expect(subnetAt(0)).toEqual({ index: 0, hostIp: "10.213.0.1", containerIp: "10.213.0.2" });
    expect(subnetAt(64)).toEqual({ index: 64, hostIp: "10.213.1.1", containerIp: "10.213.1.2" });
    expect(subnetAt(SUBNET_COUNT - 1)).toEqual({ index: SUBNET_COUNT - 1, hostIp: "10.213.255.253", containerIp: "10.213.255.254" });
    const first = pickSubnet("alloc-a", new Set());
    expect(pickSubnet("alloc-a", new Set())).toEqual(first);
    expect(pickSubnet("alloc-a", new Set([first.index])).index).toBe((first.index + 1) % SUBNET_COUNT);
    expect(() => pickSubnet("x", new Set(Array.from({ length: SUBNET_COUNT }, (_, i) => i)))).toThrow("no free container subnet");
  });

  test("interface names fit the kernel's 15 characters; the namespace is named by the whole id", () => {
    const n = netNames("45721397-2f8a-4f9c-ae09-acf35a828dbf");
    expect(n).toEqual({ ns: "corral-45721397-2f8a-4f9c-ae09-acf35a828dbf", hostIf: "crl457213972f8", peerIf: "crp457213972f8" });
    expect(n.hostIf.length).toBeLessThanOrEqual(15);
  });

  test("inside, CORRAL_PORT_<label> is `to` (else the host port) and CORRAL_HOST_PORT_<label> the host port; other tasks' ports are not its", () => {
    const task = { name: "web", ports: { http: { to: 8080 }, admin: {} } };
    const ports = [
      { task: "web", label: "http", value: 24001, static: false },
      { task: "web", label: "admin", value: 24002, static: false },
      { task: "other", label: "http", value: 24003, static: false },
    ];
    expect(containerPortEnv(task, ports)).toEqual({ CORRAL_PORT_HTTP: "8080", CORRAL_HOST_PORT_HTTP: "24001", CORRAL_PORT_ADMIN: "24002", CORRAL_HOST_PORT_ADMIN: "24002" });
    expect(containerPortMaps(task, ports)).toEqual([
      { label: "http", hostPort: 24001, containerPort: 8080 },
      { label: "admin", hostPort: 24002, containerPort: 24002 },
    ]);
  });
});
