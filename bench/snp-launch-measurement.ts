/**
 * Cost of computing an SEV-SNP launch MEASUREMENT, against its floor measured in the same run: SHA-384
 * over the same bytes (the firmware pages plus one PAGE_INFO per page). Defaults to Debian's OVMF.fd as
 * hack/snp-measure-crosscheck.sh caches it; run that script first or pass another image.
 * Run: node bench/snp-launch-measurement.ts [OVMF image] [seconds per measurement, default 2]
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  computeSnpLaunchMeasurement,
  measureFirmware,
  parseOvmf,
} from "../operator/src/attestation/snp/launch-measurement/index.ts";
import { rate } from "./lib/rate.ts";

const cache =
  process.env["TRUSTGATE_CACHE"] ??
  join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "trustgate");
const file = process.argv[2] ?? join(cache, "snp-measure/ovmf-2022.11-6+deb12u2/usr/share/ovmf/OVMF.fd");
const seconds = Number(process.argv[3] ?? "2");
const image = readFileSync(file);
const ovmf = parseOvmf(image);
const firmware = measureFirmware(ovmf);
const pages = image.length / 4096;
const inputs = { vcpu: { type: "EPYC-v4" }, vmm: "QEMU" as const, guestFeatures: 1n };
const ms = (perSecond: number): string => (1000 / perSecond).toFixed(2);

const floor = await rate(
  () => {
    for (let off = 0; off < image.length; off += 4096)
      createHash("sha384")
        .update(image.subarray(off, off + 4096))
        .digest();
    for (let i = 0; i < pages; i++) createHash("sha384").update(image.subarray(0, 0x70)).digest();
  },
  seconds * 1000,
  1,
);
const parse = await rate(() => parseOvmf(image), seconds * 1000, 10);
const full = await rate(
  () => computeSnpLaunchMeasurement(parseOvmf(image), { ...inputs, vcpus: 8 }),
  seconds * 1000,
  1,
);
const shapes = await rate(
  () => computeSnpLaunchMeasurement(ovmf, { ...inputs, vcpus: 8 }, firmware),
  seconds * 1000,
  10,
);

console.log(
  `image ${file}: ${image.length} bytes, ${pages} pages, ${ovmf.sections.length} metadata sections`,
);
console.log(`floor (SHA-384 of the pages + one PAGE_INFO each): ${ms(floor.perSecond)} ms`);
console.log(`parse footer table + SEV metadata:                 ${ms(parse.perSecond)} ms`);
console.log(`full measurement, 8 vCPUs (parse + firmware + VMSAs): ${ms(full.perSecond)} ms`);
console.log(`another VM shape from the cached firmware digest:  ${ms(shapes.perSecond)} ms`);
