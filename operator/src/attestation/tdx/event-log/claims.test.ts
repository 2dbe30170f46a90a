import { expect } from "chai";
import { createHash } from "node:crypto";
import { eventLogClaims } from "./claims.ts";
import type { TdEvent } from "./parse.ts";

const sha384 = (data: Uint8Array | string): Uint8Array => createHash("sha384").update(data).digest();
let next = 0;
function event(mrIndex: number, eventType: number, data: Uint8Array | string, digest?: Uint8Array): TdEvent {
  const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
  return { index: next++, offset: 0, mrIndex, eventType, sha384: digest ?? sha384(bytes), data: bytes };
}
/** GRUB logs "<prefix>text" and measures the text after the prefix. */
const grub = (text: string): TdEvent =>
  event(3, 0xd, `${text}\0`, sha384(text.slice(text.indexOf(": ") + 2)));
const file = (path: string, contents: string): TdEvent => event(3, 0xd, `${path}\0`, sha384(contents));
const bootApp = (image: string): TdEvent => event(2, 0x80000003, "device path", sha384(image));
function tagged(tag: number, description: string, contents: string): TdEvent {
  const data = Buffer.alloc(8 + description.length * 2);
  data.writeUInt32LE(tag, 0);
  data.writeUInt32LE(description.length * 2, 4);
  data.write(description, 8, "utf16le");
  return event(3, 0x6, data, sha384(contents));
}
const digest = (contents: string): string => Buffer.from(sha384(contents)).toString("hex");

describe("eventLogClaims (table: boot chains other than the GCP one)", () => {
  const cases: {
    name: string;
    events: () => TdEvent[];
    kernel?: string;
    initrd: string[];
    cmdline?: string;
    unknown: number;
  }[] = [
    {
      name: "firmware → UKI (no GRUB): the last boot application is the kernel",
      events: () => [bootApp("shim"), bootApp("uki")],
      kernel: digest("uki"),
      initrd: [],
      unknown: 0,
    },
    {
      name: "EFI stub: tagged initrd and load options events; the cmdline is only a digest",
      events: () => [
        bootApp("vmlinuz"),
        tagged(0x8f3b22ed, "Linux initrd", "initrd-bytes"),
        tagged(0x8f3b22ee, "LOADED_IMAGE::LoadOptions", "ro quiet"),
      ],
      kernel: digest("vmlinuz"),
      initrd: [digest("initrd-bytes")],
      unknown: 0,
    },
    {
      name: "systemd-stub: a UTF-16 EV_IPL command line bound to its digest",
      events: () => [bootApp("uki"), event(3, 0xd, Buffer.from("console=ttyS0 ro\0", "utf16le"))],
      kernel: digest("uki"),
      initrd: [],
      cmdline: "console=ttyS0 ro",
      unknown: 0,
    },
    {
      name: "a UTF-16 EV_IPL whose digest is not its text is not a command line",
      events: () => [
        bootApp("uki"),
        event(3, 0xd, Buffer.from("console=ttyS0 ro\0", "utf16le"), sha384("other")),
      ],
      kernel: digest("uki"),
      initrd: [],
      unknown: 0,
    },
    {
      name: "GRUB with two initrds: the files after `initrd` are the initrds, the one after `linux` the kernel",
      events: () => [
        bootApp("grub"),
        grub("grub_cmd: linux /vmlinuz root=/dev/vda1"),
        file("/vmlinuz", "kernel"),
        grub("grub_cmd: initrd /microcode.img /initrd.img"),
        file("/microcode.img", "ucode"),
        file("/initrd.img", "initrd"),
        file("/boot/grub/extra.cfg", "cfg"),
        grub("kernel_cmdline: /vmlinuz root=/dev/vda1"),
      ],
      kernel: digest("kernel"),
      initrd: [digest("ucode"), digest("initrd")],
      cmdline: "/vmlinuz root=/dev/vda1",
      unknown: 0,
    },
    {
      name: "attack: the kernel file's (unbound) description renamed to a shim variable is still the kernel",
      events: () => [
        bootApp("grub"),
        grub("grub_cmd: linux /vmlinuz"),
        file("MokList", "evil kernel"),
        grub("grub_cmd: initrd /initrd.img"),
        file("/initrd.img", "initrd"),
      ],
      kernel: digest("evil kernel"),
      initrd: [digest("initrd")],
      unknown: 0,
    },
    {
      name: "unknown: EV_POST_CODE, an unknown EV_EVENT_TAG and a vendor type",
      events: () => [event(1, 0x1, "post"), tagged(0x1234, "vendor", "x"), event(2, 0x90000000, "vendor")],
      initrd: [],
      unknown: 3,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const claims = eventLogClaims(c.events());
      expect(
        claims.kernel === undefined ? undefined : Buffer.from(claims.kernel.event.sha384).toString("hex"),
      ).to.equal(c.kernel);
      expect(claims.initrd.map((entry) => Buffer.from(entry.event.sha384).toString("hex"))).to.deep.equal(
        c.initrd,
      );
      expect(claims.cmdline?.value).to.equal(c.cmdline);
      expect(claims.unknown).to.have.length(c.unknown);
    });
  }
});
