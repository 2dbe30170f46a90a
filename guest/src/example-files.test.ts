import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { parse } from "yaml";

const read = (file: string): Promise<string> => readFile(new URL(`../${file}`, import.meta.url), "utf8");

describe("guest/ example files", () => {
  it("the JSON schema and the validator know the same fields", async () => {
    const schema = JSON.parse(await read("guest-config.schema.json")) as {
      properties: Record<string, unknown>;
      required: string[];
    };
    expect(Object.keys(schema.properties)).to.deep.equal([
      "apiServer",
      "caData",
      "namespace",
      "name",
      "tokenFile",
    ]);
    expect(schema.required).to.deep.equal(["apiServer", "caData", "namespace", "name"]);
  });

  it("the example cloud-init writes a config with the schema's fields and the token file it names", async () => {
    const userData = parse(await read("cloud-init.example.yaml")) as {
      write_files: { path: string; permissions: string; content: string }[];
    };
    const files = new Map(userData.write_files.map((f) => [f.path, f]));
    const config = JSON.parse(files.get("/etc/trustgate/guest.json")?.content ?? "{}") as Record<
      string,
      string
    >;
    expect(Object.keys(config)).to.deep.equal(["apiServer", "caData", "namespace", "name", "tokenFile"]);
    expect(files.get(config["tokenFile"] ?? "")?.permissions).to.equal("0600");
  });

  it("the systemd unit runs `trustgate guest` with the default config and a /run secrets directory", async () => {
    const unit = await read("trustgate-guest.service");
    expect(unit).to.match(
      /^ExecStart=\/usr\/bin\/trustgate guest --config \/etc\/trustgate\/guest.json --secrets-dir \/run\/trustgate\/secrets$/m,
    );
    expect(unit).to.match(/^LimitCORE=0$/m);
  });

  it("the systemd unit grants one capability, CAP_SYS_ADMIN (the driver's privileged ready-state control), and hides no device", async () => {
    const unit = await read("trustgate-guest.service");
    const settings = (key: string) =>
      unit
        .split("\n")
        .filter((line) => line.startsWith(`${key}=`))
        .map((line) => line.slice(key.length + 1));
    expect(settings("CapabilityBoundingSet")).to.deep.equal(["CAP_SYS_ADMIN"]);
    expect(settings("AmbientCapabilities")).to.deep.equal([]);
    expect(settings("NoNewPrivileges")).to.deep.equal(["yes"]);
    expect([...settings("PrivateDevices"), ...settings("DevicePolicy")]).to.deep.equal([]);
  });
});
