import { Gauge, type Registry } from "prom-client";
import { VERSION } from "../version.ts";

/** `trustgate_build_info{version} 1`, which every component exports. */
export function registerBuildInfo(registry: Registry, version: string = VERSION): void {
  new Gauge({
    name: "trustgate_build_info",
    help: "1, labelled with the running trustgate version.",
    labelNames: ["version"],
    registers: [registry],
  }).set({ version }, 1);
}
