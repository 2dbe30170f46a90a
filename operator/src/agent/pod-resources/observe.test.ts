import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { ConfidentialHostStatusGpu } from "../../api/v1alpha1/generated/types.ts";
import {
  startPodResourcesServer,
  type PodResourcesServer,
} from "../../../test/support/pod-resources-server.ts";
import { GRPC_UNIMPLEMENTED, GrpcError, unaryCall } from "./grpc-client.ts";
import { kubeletPodResources, observePodResources, podResourcesUnderHostRoot } from "./observe.ts";

const H100 = "nvidia.com/GH100_H100_SXM5_80GB";
const gpu = (pciAddress: string, iommuGroup: string): ConfidentialHostStatusGpu => ({
  pciAddress,
  vendorId: "0x10de",
  deviceId: "0x2330",
  ccMode: "on",
  driver: "vfio-pci",
  iommuGroup,
  model: "H100-SXM5-80GB",
});
const GPUS = [gpu("0000:18:00.0", "21"), gpu("0000:2a:00.0", "37"), gpu("0000:3a:00.0", "43")];

describe("PodResources client (agent) against a gRPC server built from the kubelet's api.proto", () => {
  let dir: string;
  let server: PodResourcesServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "podres-"));
    server = await startPodResourcesServer(join(dir, "kubelet.sock"));
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("decodes List: every pod with the devices of its containers (CPU, memory, topology and DRA fields skipped)", async () => {
    server.answer({
      pods: [
        {
          namespace: "ml",
          name: "virt-launcher-llm-x7k2p",
          devices: [
            {
              resourceName: H100,
              deviceIds: ["0000:2a:00.0", "0000:18:00.0"],
              topology: { nodes: [{ ID: "1" }] },
            },
          ],
          dynamicResources: [{ claimName: "c", claimNamespace: "ml" }],
        },
        { namespace: "kube-system", name: "coredns-1", devices: [] },
      ],
    });
    const pods = await kubeletPodResources(server.socketPath).list();
    expect(pods).to.deep.equal([
      {
        namespace: "ml",
        name: "virt-launcher-llm-x7k2p",
        devices: [{ resourceName: H100, deviceIds: ["0000:2a:00.0", "0000:18:00.0"] }],
      },
      { namespace: "kube-system", name: "coredns-1", devices: [] },
    ]);
  });

  it("reports GetAllocatableResources' UNIMPLEMENTED as a gRPC status code", async () => {
    server.answer({ pods: [] });
    const error = await kubeletPodResources(server.socketPath)
      .allocatable()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).to.be.instanceOf(GrpcError);
    expect((error as GrpcError).code).to.equal(GRPC_UNIMPLEMENTED);
  });

  it("publishes the pods holding GPUs, sorted, each device mapped to a host GPU (PCI address or IOMMU group)", async () => {
    server.answer({
      pods: [
        { namespace: "ml", name: "virt-launcher-b-2", devices: [{ resourceName: H100, deviceIds: ["43"] }] },
        {
          namespace: "ml",
          name: "virt-launcher-a-1",
          devices: [
            { resourceName: H100, deviceIds: ["0000:2A:00.0", "0000:18:00.0"] },
            { resourceName: "example.com/nic", deviceIds: ["vf-3"] },
          ],
        },
      ],
      allocatable: [{ resourceName: H100, deviceIds: ["0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0"] }],
    });
    const { podResources, problems } = await observePodResources(
      kubeletPodResources(server.socketPath),
      GPUS,
    );
    expect(problems).to.deep.equal([]);
    expect(podResources).to.deep.equal({
      state: "Observed",
      pods: [
        {
          namespace: "ml",
          name: "virt-launcher-a-1",
          devices: [
            { resourceName: H100, deviceId: "0000:18:00.0", pciAddress: "0000:18:00.0" },
            { resourceName: H100, deviceId: "0000:2A:00.0", pciAddress: "0000:2a:00.0" },
          ],
        },
        {
          namespace: "ml",
          name: "virt-launcher-b-2",
          devices: [{ resourceName: H100, deviceId: "43", pciAddress: "0000:3a:00.0" }],
        },
      ],
    });
  });

  it("keeps device IDs that name no GPU of this host, with the reason", async () => {
    server.answer({
      pods: [
        {
          namespace: "ml",
          name: "virt-launcher-c-3",
          devices: [{ resourceName: H100, deviceIds: ["0000:18:00.0", "0000:99:00.0"] }],
        },
      ],
    });
    const { podResources, problems } = await observePodResources(
      kubeletPodResources(server.socketPath),
      GPUS,
    );
    expect(podResources.pods?.[0]?.devices[1]).to.deep.equal({
      resourceName: H100,
      deviceId: "0000:99:00.0",
      problem: "PCI device 0000:99:00.0 is not a GPU this host reports",
    });
    expect(problems).to.deep.equal([
      `pod ml/virt-launcher-c-3: ${H100} device 0000:99:00.0: PCI device 0000:99:00.0 is not a GPU this host reports`,
    ]);
    expect(podResources.message).to.include("0000:99:00.0");
  });

  it("is Unavailable, naming the gRPC status, when List fails", async () => {
    server.answer({ pods: [], listError: grpc.status.RESOURCE_EXHAUSTED });
    const { podResources } = await observePodResources(kubeletPodResources(server.socketPath), GPUS);
    expect(podResources.state).to.equal("Unavailable");
    expect(podResources.message).to.match(/List failed: .*gRPC status 8: List refused by the test server/);
  });

  it("is Unavailable, naming the mount, when the socket does not exist; and not asked with an empty path", async () => {
    const source = podResourcesUnderHostRoot(dir, "/var/lib/kubelet/pod-resources/kubelet.sock");
    const { podResources } = await observePodResources(source ?? kubeletPodResources(""), GPUS);
    expect(podResources.state).to.equal("Unavailable");
    expect(podResources.message).to.include("is /var/lib/kubelet/pod-resources mounted into the agent?");
    expect(podResources.message).to.include(
      "kubelet PodResources API at /var/lib/kubelet/pod-resources/kubelet.sock",
    );
    const long = kubeletPodResources(`/${"d".repeat(120)}/kubelet.sock`);
    expect((await observePodResources(long, GPUS)).podResources.message).to.include(
      "longer than a Unix socket path may be",
    );
    expect(podResourcesUnderHostRoot(dir, "")).to.equal(undefined);
  });
});

describe("unaryCall deadline", () => {
  let dir: string;
  let silent: Server;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "podres-"));
    silent = createServer(() => undefined); // accepts, never speaks HTTP/2
    await new Promise<void>((resolve) => silent.listen(join(dir, "silent.sock"), resolve));
  });
  after(async () => {
    silent.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("gives up after the timeout with DEADLINE_EXCEEDED", async () => {
    const started = Date.now();
    const error = await unaryCall({
      socketPath: join(dir, "silent.sock"),
      method: "/v1.PodResourcesLister/List",
      request: new Uint8Array(0),
      timeoutMs: 200,
      maxResponseBytes: 1024,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as GrpcError).code).to.equal(4);
    expect((error as Error).message).to.include("no answer within 200 ms");
    expect(Date.now() - started).to.be.below(2000);
  });
});
