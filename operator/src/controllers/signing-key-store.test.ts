import { ApiException, type CoreV1Api, type V1Secret } from "@kubernetes/client-node";
import { expect } from "chai";
import { pino } from "pino";
import { SigningKeyStore } from "./signing-key-store.ts";

const notFound = () => new ApiException(404, "not found", JSON.stringify({ reason: "NotFound" }), {});

/** A Secret store in memory: the calls SigningKeyStore makes, nothing else. */
function fakeCore(): { core: CoreV1Api; secret: () => V1Secret | undefined } {
  let secret: V1Secret | undefined;
  const core = {
    readNamespacedSecret: () => (secret === undefined ? Promise.reject(notFound()) : Promise.resolve(secret)),
    createNamespacedSecret: ({ body }: { body: V1Secret }) => {
      secret = body;
      return Promise.resolve(body);
    },
    replaceNamespacedSecret: ({ body }: { body: V1Secret }) => {
      secret = body;
      return Promise.resolve(body);
    },
    replaceNamespacedConfigMap: () => Promise.resolve({}),
    createNamespacedConfigMap: () => Promise.resolve({}),
  } as unknown as CoreV1Api;
  return { core, secret: () => secret };
}

describe("SigningKeyStore rotation hook", () => {
  it("reports each new active key (the first one and each rotation), not a reload of the same set", async () => {
    const { core } = fakeCore();
    let rotations = 0;
    const policy = { rotateAfterMs: 60 * 60_000, retainAfterRotationMs: 2 * 60 * 60_000 };
    const onRotated = () => rotations++;
    const store = new SigningKeyStore(core, "trustgate-system", pino({ level: "silent" }), policy, onRotated);
    const t0 = new Date("2026-01-01T00:00:00Z");
    const first = await store.current(t0);
    expect(rotations).to.equal(1);
    // A minute and a half later: the set is re-read, unchanged.
    expect((await store.current(new Date(t0.getTime() + 90_000))).kid).to.equal(first.kid);
    expect(rotations).to.equal(1);
    // Another replica's store reading the same Secret does not count a rotation it did not make.
    const other = new SigningKeyStore(core, "trustgate-system", pino({ level: "silent" }), policy, onRotated);
    await other.current(new Date(t0.getTime() + 120_000));
    expect(rotations).to.equal(1);
    const rotated = await store.current(new Date(t0.getTime() + 61 * 60_000));
    expect(rotated.kid).not.to.equal(first.kid);
    expect(rotations).to.equal(2);
  });

  it("publishes the JWKS when another replica creates the ConfigMap first (AlreadyExists is not an error)", async () => {
    const { core } = fakeCore();
    let configMap: unknown;
    const published: string[] = [];
    Object.assign(core, {
      replaceNamespacedConfigMap: ({ body }: { body: { data: Record<string, string> } }) => {
        if (configMap === undefined) {
          // The other replica's create lands between this replace and this store's create.
          configMap = { data: { "jwks.json": "{}" } };
          return Promise.reject(notFound());
        }
        configMap = body;
        published.push(body.data["jwks.json"] ?? "");
        return Promise.resolve(body);
      },
      createNamespacedConfigMap: () =>
        Promise.reject(new ApiException(409, "exists", JSON.stringify({ reason: "AlreadyExists" }), {})),
    });
    const store = new SigningKeyStore(core, "trustgate-system", pino({ level: "silent" }));
    const key = await store.current(new Date("2026-01-01T00:00:00Z"));
    expect(published).to.have.length(1);
    expect(published[0]).to.include(key.kid);
  });

  it("shares one sync between concurrent callers: one key, one Secret write", async () => {
    const { core } = fakeCore();
    let secretWrites = 0;
    const create = core.createNamespacedSecret.bind(core);
    Object.assign(core, {
      createNamespacedSecret: (args: Parameters<CoreV1Api["createNamespacedSecret"]>[0]) => {
        secretWrites++;
        return create(args);
      },
    });
    const store = new SigningKeyStore(core, "trustgate-system", pino({ level: "silent" }));
    const now = new Date("2026-01-01T00:00:00Z");
    const keys = await Promise.all(Array.from({ length: 8 }, () => store.current(now)));
    expect(new Set(keys.map((k) => k.kid)).size).to.equal(1);
    expect(secretWrites).to.equal(1);
  });
});
