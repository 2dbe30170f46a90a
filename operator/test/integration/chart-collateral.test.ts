// The Helm chart charts/trustgate and the controller's attestation services, with the real helm binary: the
// collateral flags (Intel PCS or a PCCS, AMD KDS, mirror, cache, deadlines), the volumes behind them, the
// egress proxy and extra CA environment, the values schema's refusals, the NetworkPolicy and NOTES.txt.
import { expect } from "chai";
import type { V1Container, V1EnvVar, V1PodSpec, V1Volume } from "@kubernetes/client-node";
import {
  AGENT,
  CONTROLLER,
  chartForSuite,
  renderNotes,
  type RunResult,
  succeeded,
  WEBHOOK,
} from "../support/chart.ts";
import { find, flags, type Manifest, manifests, onlyContainer, podSpec } from "../support/chart-manifests.ts";

const CACHE_DIR = "/var/cache/trustgate/collateral";
const MIRROR_DIR = "/var/lib/trustgate/collateral-mirror";
const INTEL_PCS = "https://api.trustedservices.intel.com";
const AMD_KDS = "https://kdsintf.amd.com";
/** The controller's flags that name collateral services, files and timings. */
const COLLATERAL_FLAGS = [
  "intel-pcs-url",
  "pccs-url",
  "intel-root-ca-crl-url",
  "intel-pcs-update",
  "intel-pcs-api-key-file",
  "amd-kds-url",
  "collateral-ca-file",
  "collateral-dir",
  "collateral-cache-dir",
  "collateral-deadline",
  "collateral-stale-grace",
];

/** The controller's collateral flags as an object (flags without a value are true). */
function collateralFlags(container: V1Container): Record<string, string | true> {
  return Object.fromEntries(
    [...flags(container.args ?? [])].filter(([name]) => COLLATERAL_FLAGS.includes(name)),
  );
}

/** Volume mounts as "mountPath ro|rw" by volume name. */
function mountsOf(container: V1Container): Record<string, string> {
  return Object.fromEntries(
    (container.volumeMounts ?? []).map((m) => [
      m.name,
      `${m.mountPath}${m.readOnly === true ? " ro" : " rw"}`,
    ]),
  );
}

function volume(spec: V1PodSpec, name: string): V1Volume {
  const found = spec.volumes?.find((v) => v.name === name);
  if (found === undefined) throw new Error(`no volume ${name}`);
  return found;
}

function envOf(container: V1Container): Record<string, V1EnvVar> {
  return Object.fromEntries((container.env ?? []).map((e) => [e.name, e]));
}

/** The egress rules of the controller's NetworkPolicy as "TCP/443,TCP/8081 -> cidr,cidr" (or "-> any"). */
function controllerEgress(objects: Manifest[]): string[] {
  const spec = find(objects, "NetworkPolicy", CONTROLLER)["spec"] as {
    egress: { ports: { protocol: string; port: number }[]; to?: { ipBlock?: { cidr: string } }[] }[];
  };
  return spec.egress.map((rule) => {
    const ports = rule.ports.map((p) => `${p.protocol}/${String(p.port)}`).join(",");
    const to = rule.to?.map((peer) => peer.ipBlock?.cidr ?? "peer").join(",") ?? "any";
    return `${ports} -> ${to}`;
  });
}

describe("Helm chart charts/trustgate: the controller's attestation services (real helm)", function () {
  this.timeout(120_000);
  const { chart, template, objectsOf } = chartForSuite();

  /** helm template with --set values; fails the test with helm's output when it does not render. */
  async function render(...sets: string[]): Promise<Manifest[]> {
    return manifests(
      succeeded(
        await template(sets.flatMap((s) => ["--set", s])),
        `helm template --set ${sets.join(" --set ")}`,
      ),
    );
  }
  function controllerOf(objects: Manifest[]): { spec: V1PodSpec; container: V1Container } {
    const deployment = find(objects, "Deployment", CONTROLLER);
    return { spec: podSpec(deployment), container: onlyContainer(deployment) };
  }

  describe("the controller's collateral flags and volumes", function () {
    it("renders Intel PCS, AMD KDS, the default deadlines and an emptyDir cache at the cache dir by default", function () {
      const { spec, container } = controllerOf(objectsOf("default"));
      expect(collateralFlags(container)).to.deep.equal({
        "intel-pcs-url": INTEL_PCS,
        "intel-pcs-update": "standard",
        "amd-kds-url": AMD_KDS,
        "collateral-cache-dir": CACHE_DIR,
        "collateral-deadline": "30s",
        "collateral-stale-grace": "24h",
      });
      // The root filesystem is read-only: the cache is the one writable mount, and nothing else is mounted.
      expect(container.securityContext?.readOnlyRootFilesystem).to.equal(true);
      expect(mountsOf(container)).to.deep.equal({ "collateral-cache": `${CACHE_DIR} rw` });
      expect(spec.volumes).to.deep.equal([{ name: "collateral-cache", emptyDir: { sizeLimit: "128Mi" } }]);
      // A PersistentVolumeClaim for the cache is writable by the controller's group.
      expect(spec.securityContext).to.deep.include({ runAsUser: 65532, fsGroup: 65532 });
      const env = envOf(container);
      for (const name of [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "NO_PROXY",
        "NODE_USE_ENV_PROXY",
        "NODE_EXTRA_CA_CERTS",
      ]) {
        expect(env, `no ${name} without a proxy or an extra CA`).to.not.have.property(name);
      }
    });

    it("renders a PCCS instead of Intel PCS, with its CA bundle from a ConfigMap mounted read-only", async function () {
      const { spec, container } = controllerOf(
        await render(
          "controller.collateral.intel.pccsUrl=https://pccs.example.com:8081",
          "controller.collateral.caBundle.configMap=pccs-ca",
          "controller.collateral.caBundle.key=bundle.pem",
        ),
      );
      const collateral = collateralFlags(container);
      expect(collateral).to.include({
        "pccs-url": "https://pccs.example.com:8081",
        "collateral-ca-file": "/etc/trustgate/collateral-ca/ca.crt",
        "amd-kds-url": AMD_KDS,
      });
      expect(collateral, "a PCCS replaces Intel PCS").to.not.have.property("intel-pcs-url");
      expect(mountsOf(container)).to.include({ "collateral-ca": "/etc/trustgate/collateral-ca ro" });
      expect(volume(spec, "collateral-ca")).to.deep.equal({
        name: "collateral-ca",
        configMap: { name: "pccs-ca", items: [{ key: "bundle.pem", path: "ca.crt" }] },
      });
    });

    it("mounts the Intel PCS API key Secret read-only and passes only the file's path", async function () {
      const objects = await render(
        "controller.collateral.intel.apiKeySecret.name=intel-pcs-key",
        "controller.collateral.intel.apiKeySecret.key=primary",
        "controller.collateral.intel.rootCaCrlUrl=https://crl.example.com/root.der",
        "controller.collateral.intel.update=early",
      );
      const { spec, container } = controllerOf(objects);
      const collateral = collateralFlags(container);
      expect(collateral).to.include({
        "intel-pcs-url": INTEL_PCS,
        "intel-pcs-api-key-file": "/etc/trustgate/intel-pcs/api-key",
        "intel-root-ca-crl-url": "https://crl.example.com/root.der",
        "intel-pcs-update": "early",
      });
      expect(mountsOf(container)).to.include({ "intel-pcs-api-key": "/etc/trustgate/intel-pcs ro" });
      expect(volume(spec, "intel-pcs-api-key")).to.deep.equal({
        name: "intel-pcs-api-key",
        secret: {
          secretName: "intel-pcs-key",
          defaultMode: 0o440,
          items: [{ key: "primary", path: "api-key" }],
        },
      });
      // The key reaches the controller only as that file: no env var reads the Secret.
      for (const workload of objects.filter((o) => o.kind === "Deployment" || o.kind === "DaemonSet")) {
        for (const env of onlyContainer(workload).env ?? []) {
          expect(env.valueFrom?.secretKeyRef, `${workload.metadata.name} env ${env.name}`).to.equal(
            undefined,
          );
        }
      }
    });

    it("renders the air-gapped setup: Intel PCS and AMD KDS off, the mirror mounted read-only from a PVC", async function () {
      const { spec, container } = controllerOf(
        await render(
          "controller.collateral.intel.pcsUrl=off",
          "controller.collateral.amd.kdsUrl=off",
          "controller.collateral.mirror.existingClaim=collateral-mirror",
        ),
      );
      expect(collateralFlags(container)).to.deep.equal({
        "intel-pcs-url": "off",
        "intel-pcs-update": "standard",
        "amd-kds-url": "off",
        "collateral-dir": MIRROR_DIR,
        "collateral-cache-dir": CACHE_DIR,
        "collateral-deadline": "30s",
        "collateral-stale-grace": "24h",
      });
      expect(mountsOf(container)).to.deep.equal({
        "collateral-cache": `${CACHE_DIR} rw`,
        "collateral-mirror": `${MIRROR_DIR} ro`,
      });
      expect(volume(spec, "collateral-mirror")).to.deep.equal({
        name: "collateral-mirror",
        persistentVolumeClaim: { claimName: "collateral-mirror", readOnly: true },
      });
    });

    it("renders the fourth value set: a mirror ConfigMap with paths, a cache PVC, the PCCS's port allowed", function () {
      const objects = objectsOf("collateral");
      const { spec, container } = controllerOf(objects);
      expect(collateralFlags(container)).to.deep.equal({
        "pccs-url": "https://pccs.example.com:8081",
        "intel-pcs-update": "early",
        "intel-pcs-api-key-file": "/etc/trustgate/intel-pcs/api-key",
        "amd-kds-url": "off",
        "collateral-ca-file": "/etc/trustgate/collateral-ca/ca.crt",
        "collateral-dir": MIRROR_DIR,
        "collateral-cache-dir": CACHE_DIR,
        "collateral-deadline": "45s",
        "collateral-stale-grace": "12h",
      });
      expect(volume(spec, "collateral-mirror").configMap).to.deep.equal({
        name: "collateral-mirror",
        items: [
          { key: "tcb-info-00806f050000.json", path: "tcb-info-00806f050000.json" },
          { key: "snp-cert-chain-milan-vcek", path: "snp-cert-chain/Milan/vcek" },
        ],
      });
      expect(volume(spec, "collateral-cache")).to.deep.equal({
        name: "collateral-cache",
        persistentVolumeClaim: { claimName: "trustgate-collateral-cache" },
      });
      expect(mountsOf(container)).to.deep.equal({
        "collateral-cache": `${CACHE_DIR} rw`,
        "collateral-mirror": `${MIRROR_DIR} ro`,
        "collateral-ca": "/etc/trustgate/collateral-ca ro",
        "intel-pcs-api-key": "/etc/trustgate/intel-pcs ro",
        "extra-ca": "/etc/trustgate/extra-ca ro",
      });
      expect(controllerEgress(objects).slice(2)).to.deep.equal([
        "TCP/443,TCP/8081 -> any",
        "TCP/3128 -> 198.51.100.10/32",
      ]);
    });

    it("renders an emptyDir without a size limit when sizeLimit is empty", async function () {
      const { spec } = controllerOf(await render("controller.collateral.cache.sizeLimit="));
      expect(volume(spec, "collateral-cache")).to.deep.equal({ name: "collateral-cache", emptyDir: {} });
    });
  });

  describe("the egress proxy and the extra CA bundle", function () {
    it("renders the proxy env with NODE_USE_ENV_PROXY and a NO_PROXY that keeps the API server direct", async function () {
      const objects = await render(
        "controller.proxy.httpsProxy=http://proxy.example.com:3128",
        "controller.proxy.httpProxy=http://proxy.example.com:8080",
        "controller.proxy.noProxy={pccs.internal,10.96.0.10}",
      );
      const env = envOf(controllerOf(objects).container);
      expect(env["HTTPS_PROXY"]?.value).to.equal("http://proxy.example.com:3128");
      expect(env["HTTP_PROXY"]?.value).to.equal("http://proxy.example.com:8080");
      expect(env["NODE_USE_ENV_PROXY"]?.value).to.equal("1");
      const noProxy = env["NO_PROXY"]?.value?.split(",") ?? [];
      // The in-cluster address the controller connects to (the kubelet expands it), the API server's
      // names, the cluster's Services, then the user's entries.
      expect(noProxy).to.include.members([
        "$(KUBERNETES_SERVICE_HOST)",
        "kubernetes.default.svc",
        ".svc",
        ".cluster.local",
        "pccs.internal",
        "10.96.0.10",
      ]);
      // $(VAR) expands only to variables defined earlier in the list or the kubelet's Service variables.
      expect(Object.keys(env)).to.not.include("KUBERNETES_SERVICE_HOST");
      // Only the controller calls out: the agent and the webhook talk to the API server alone.
      for (const [kind, name] of [
        ["DaemonSet", AGENT],
        ["Deployment", WEBHOOK],
      ] as const) {
        const names = (onlyContainer(find(objects, kind, name)).env ?? []).map((e) => e.name);
        expect(names, name).to.not.include.members([
          "HTTPS_PROXY",
          "HTTP_PROXY",
          "NO_PROXY",
          "NODE_USE_ENV_PROXY",
        ]);
      }
      // The NetworkPolicy lets the controller reach the proxy on the ports of its URLs.
      expect(controllerEgress(objects).slice(2)).to.deep.equal([
        "TCP/443 -> any",
        "TCP/3128,TCP/8080 -> any",
      ]);
    });

    it("takes the proxy's port from the scheme when the URL names none, or from networkPolicy.proxy.ports", async function () {
      const derived = await render("controller.proxy.httpsProxy=https://proxy.example.com");
      expect(controllerEgress(derived).slice(3)).to.deep.equal(["TCP/443 -> any"]);
      const plain = await render("controller.proxy.httpProxy=http://proxy.example.com/");
      expect(controllerEgress(plain).slice(3)).to.deep.equal(["TCP/80 -> any"]);
      const pinned = await render(
        "controller.proxy.httpsProxy=http://proxy.example.com:3128",
        "networkPolicy.proxy.ports={8443}",
        "networkPolicy.proxy.cidrs={192.0.2.7/32}",
      );
      expect(controllerEgress(pinned).slice(3)).to.deep.equal(["TCP/8443 -> 192.0.2.7/32"]);
    });

    it("renders NODE_EXTRA_CA_CERTS pointing into the extra CA bundle's read-only mount", async function () {
      const { spec, container } = controllerOf(
        await render("controller.extraCaBundle.configMap=proxy-ca", "controller.extraCaBundle.key=root.pem"),
      );
      const path = envOf(container)["NODE_EXTRA_CA_CERTS"]?.value;
      expect(path).to.equal("/etc/trustgate/extra-ca/ca.crt");
      expect(mountsOf(container)).to.include({ "extra-ca": "/etc/trustgate/extra-ca ro" });
      expect(volume(spec, "extra-ca")).to.deep.equal({
        name: "extra-ca",
        configMap: { name: "proxy-ca", items: [{ key: "root.pem", path: "ca.crt" }] },
      });
      expect(envOf(container), "an extra CA needs no proxy").to.not.have.property("NODE_USE_ENV_PROXY");
    });
  });

  describe("refusals", function () {
    async function refused(sets: string[], message: RegExp | string): Promise<void> {
      const result: RunResult = await template(sets.flatMap((s) => ["--set", s]));
      expect(result.code, sets.join(" ")).to.not.equal(0);
      if (typeof message === "string") expect(result.stderr, sets.join(" ")).to.include(message);
      else expect(result.stderr, sets.join(" ")).to.match(message);
    }

    it("refuses through values.schema.json: plain http, unknown keys, bad durations, enums, proxy credentials", async function () {
      const cases: [string, RegExp][] = [
        [
          "controller.collateral.intel.pcsUrl=http://api.trustedservices.intel.com",
          /at '\/controller\/collateral\/intel\/pcsUrl'.*does not match pattern/,
        ],
        [
          "controller.collateral.intel.pccsUrl=http://pccs:8081",
          /at '\/controller\/collateral\/intel\/pccsUrl'/,
        ],
        ["controller.collateral.amd.kdsUrl=none", /at '\/controller\/collateral\/amd\/kdsUrl'/],
        // The controller takes base URLs only: no credentials, query or fragment.
        [
          "controller.collateral.intel.rootCaCrlUrl=https://crl.example.com/root.der?token",
          /at '\/controller\/collateral\/intel\/rootCaCrlUrl'/,
        ],
        [
          "controller.collateral.amd.kdsUrl=https://user@kds.example.com",
          /at '\/controller\/collateral\/amd\/kdsUrl'/,
        ],
        [
          "controller.collateral.bogus=1",
          /at '\/controller\/collateral': additional properties 'bogus' not allowed/,
        ],
        [
          "controller.collateral.intel.apiKey=abc",
          /at '\/controller\/collateral\/intel': additional properties 'apiKey' not allowed/,
        ],
        ["controller.collateral.deadline=30 seconds", /at '\/controller\/collateral\/deadline'/],
        ["controller.collateral.staleGrace=1d", /at '\/controller\/collateral\/staleGrace'/],
        ["controller.collateral.intel.update=late", /at '\/controller\/collateral\/intel\/update'/],
        ["controller.collateral.cache.sizeLimit=lots", /at '\/controller\/collateral\/cache\/sizeLimit'/],
        ["controller.proxy.httpsProxy=http://user:secret@proxy:3128", /at '\/controller\/proxy\/httpsProxy'/],
        ["controller.proxy.noProxy={a b}", /at '\/controller\/proxy\/noProxy\/0'/],
        ["controller.extraCaBundle.configMap=Not_A_Name", /at '\/controller\/extraCaBundle\/configMap'/],
        ["networkPolicy.proxy.ports={0}", /at '\/networkPolicy\/proxy\/ports\/0'/],
      ];
      for (const [value, message] of cases) await refused([value], message);
    });

    it("refuses a PCCS together with a non-default pcsUrl, and a mirror from both a PVC and a ConfigMap", async function () {
      await refused(
        ["controller.collateral.intel.pccsUrl=https://pccs:8081", "controller.collateral.intel.pcsUrl=off"],
        "controller.collateral.intel.pccsUrl and controller.collateral.intel.pcsUrl (off) are mutually exclusive",
      );
      await refused(
        [
          "controller.collateral.intel.pccsUrl=https://pccs:8081",
          "controller.collateral.intel.pcsUrl=https://pcs.example.com",
        ],
        `leave pcsUrl at its default (${INTEL_PCS}) or unset pccsUrl`,
      );
      await refused(
        ["controller.collateral.mirror.existingClaim=m", "controller.collateral.mirror.configMap=m"],
        "controller.collateral.mirror: set existingClaim or configMap, not both",
      );
      await refused(
        ["controller.collateral.mirror.items[0].key=a", "controller.collateral.mirror.items[0].path=a"],
        "controller.collateral.mirror.items applies to mirror.configMap only",
      );
      // A pccsUrl beside the default pcsUrl is the normal PCCS setup.
      await render(
        `controller.collateral.intel.pcsUrl=${INTEL_PCS}`,
        "controller.collateral.intel.pccsUrl=https://p",
      );
    });
  });

  describe("NOTES.txt", function () {
    async function notes(...sets: string[]): Promise<string> {
      const result = await renderNotes(
        chart(),
        sets.flatMap((s) => ["--set", s]),
      );
      succeeded(result, "helm template of NOTES.txt");
      return result.notes;
    }

    it("names the services the controller contacts, whether egress allows them, and how to run air-gapped", async function () {
      const text = await notes();
      expect(text).to.include(`Intel (TDX):       Intel PCS at ${INTEL_PCS}`);
      expect(text).to.include(`AMD (SEV-SNP):     AMD KDS at ${AMD_KDS}`);
      expect(text).to.match(/RIM service, OCSP responder and NRAS URLs of each AttestationPolicy/);
      expect(text).to.include(
        "Egress:            allowed by the controller's NetworkPolicy: TCP 443 to any address",
      );
      expect(text).to.include(
        "Air-gapped clusters: make a mirror with `trustgate collateral sync --out DIR`",
      );
      expect(text).to.include("controller.collateral.intel.pcsUrl=off, controller.collateral.amd.kdsUrl=off");
      expect(text).to.not.include("Proxy:");
    });

    it("names a PCCS and a proxy, and says when the NetworkPolicy does not allow the services", async function () {
      const text = await notes(
        "controller.collateral.intel.pccsUrl=https://pccs.example.com:8081",
        "controller.proxy.httpsProxy=http://proxy.example.com:3128",
        "networkPolicy.attestationServices.enabled=false",
        "networkPolicy.proxy.cidrs={198.51.100.10/32}",
      );
      expect(text).to.include("Intel (TDX):       the PCCS at https://pccs.example.com:8081");
      expect(text).to.include("Proxy:             HTTPS_PROXY http://proxy.example.com:3128");
      expect(text).to.include("Egress:            NOT allowed by the controller's NetworkPolicy");
      expect(text).to.include(
        "Egress to proxy:   allowed by the controller's NetworkPolicy: TCP 3128 to 198.51.100.10/32",
      );
    });

    it("says the air-gapped setup contacts neither Intel nor AMD, and where the mirror is", async function () {
      const text = await notes(
        "controller.collateral.intel.pcsUrl=off",
        "controller.collateral.amd.kdsUrl=off",
        "controller.collateral.mirror.existingClaim=collateral-mirror",
        "networkPolicy.enabled=false",
      );
      expect(text).to.include("Intel (TDX):       none (pcsUrl off)");
      expect(text).to.include("AMD (SEV-SNP):     none (kdsUrl off)");
      expect(text).to.include("Offline mirror:    PersistentVolumeClaim collateral-mirror (read-only)");
      expect(text).to.include("Egress:            no NetworkPolicy is rendered");
      expect(text, "already air-gapped").to.not.include("Air-gapped clusters:");
    });
  });
});
