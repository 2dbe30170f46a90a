import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";

/** Request options that send a patch as a JSON merge patch (RFC 7386). */
export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** Request options that send a patch as a Kubernetes strategic merge patch (lists merged by their keys). */
export const strategicMergePatch = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
