import { ApiException, type CustomObjectsApi, type V1APIResourceList } from "@kubernetes/client-node";
import { expect } from "chai";
import { ServedResource } from "./served-resource.ts";

const DATA_VOLUMES = { group: "cdi.kubevirt.io", version: "v1beta1", plural: "datavolumes" };

function discovery(answer: () => Promise<V1APIResourceList>): {
  objects: CustomObjectsApi;
  calls: () => number;
} {
  let calls = 0;
  const objects = {
    getAPIResources: () => {
      calls++;
      return answer();
    },
  } as unknown as CustomObjectsApi;
  return { objects, calls: () => calls };
}

const list = (...names: string[]): V1APIResourceList => ({
  groupVersion: "cdi.kubevirt.io/v1beta1",
  resources: names.map((name) => ({ name, kind: name, namespaced: true, singularName: "", verbs: [] })),
});

describe("ServedResource", () => {
  it("is served when discovery lists the resource, not when the group lists others or is 404", async () => {
    expect(
      await new ServedResource(
        discovery(() => Promise.resolve(list("datavolumes"))).objects,
        DATA_VOLUMES,
      ).served(),
    ).to.equal(true);
    expect(
      await new ServedResource(discovery(() => Promise.resolve(list("cdis"))).objects, DATA_VOLUMES).served(),
    ).to.equal(false);
    const notFound = discovery(() => Promise.reject(new ApiException(404, "Not Found", "", {})));
    expect(await new ServedResource(notFound.objects, DATA_VOLUMES).served()).to.equal(false);
  });

  it("cannot tell (undefined) when discovery fails otherwise", async () => {
    const failing = discovery(() => Promise.reject(new ApiException(503, "Unavailable", "", {})));
    expect(await new ServedResource(failing.objects, DATA_VOLUMES).served()).to.equal(undefined);
  });

  it("asks once per ttl", async () => {
    let now = 0;
    const api = discovery(() => Promise.resolve(list("datavolumes")));
    const served = new ServedResource(api.objects, DATA_VOLUMES, 30_000, () => now);
    await Promise.all([served.served(), served.served()]);
    now = 29_999;
    await served.served();
    expect(api.calls()).to.equal(1);
    now = 30_000;
    await served.served();
    expect(api.calls()).to.equal(2);
  });
});
