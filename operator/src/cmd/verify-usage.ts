/** `trustgate verify --help`. */
export const VERIFY_USAGE = `Usage: trustgate verify <bundle.json | -> [-o json|yaml|text] [--fail-on warning|contraindicated]
                        [--at <RFC3339 time>] [--policy <AttestationPolicy YAML>] [--nonce <hex>] [--tee tdx|snp]
                        [--gpu-mode on|ppcie] [--collateral-dir <dir>] [--intel-pcs-url <url> | --pccs-url <url>]
                        [--intel-root-ca-crl-url <url>] [--intel-pcs-update standard|early]
                        [--amd-kds-url <url>] [--collateral-ca-file <PEM>]
                        [--rim-dir <dir>]... [--ocsp-dir <dir>] [--nras-token <file>] [--nras-jwks <file|url>]

GPU evidence: RIMs come from the bundle, then --rim-dir (files named by RIM ID, e.g.
NV_GPU_DRIVER_GH100_550.90.07.xml), then the policy's gpu.rimServiceUrl. OCSP responses for the device and
RIM certificate chains come from --ocsp-dir (DER OCSPResponse files, any names), then the policy's gpu.ocspUrl;
with neither, revocation is "unchecked". --nras-token <file> (NRAS's detached EAT for this bundle's GPUs) with
--nras-jwks <file|https URL> appraises in remote mode: the token's signatures, issuer, times, nonce and
per-GPU digests are verified, and its results replace the RIM and OCSP appraisal.

Collateral the bundle lacks (Intel TCB info, QE identity, CRLs; AMD VCEKs, cert chains and CRLs) comes from
--collateral-dir, then from --intel-pcs-url (Intel PCS v4) or --pccs-url (a PCCS; its root CA CRL from
--intel-root-ca-crl-url, by default Intel's for Intel's PCS and <url>/sgx/certification/v4/rootcacrl for a
PCCS) and --amd-kds-url (AMD KDS or a mirror). Without those flags verify stays offline. Collateral the
operator fetches wins over older collateral in the bundle, so a bundle cannot hide a revocation.
--collateral-ca-file trusts these CA certificates (instead of the system's) for the collateral services.

--policy is checked as the API server checks it (schema and CEL rules) and its unset fields take the CRD's
defaults; without it the CRD's defaults apply. --tee names the TEE the CVM asked for: evidence of another TEE
is contraindicated (TeeMismatch), as in the controller. --gpu-mode names the CC mode of the host the CVM was
placed on: the GPUs' CC state must report it, and a bundle with GPUs must carry that state signed by the guest
key (gpuSystem, gpuSystemSignature), as in the controller; without it a bundle assembled elsewhere may lack it.

Verifies an evidence bundle (a file, or stdin with -) and prints the result: -o json (default), one
VerificationResult object (apiVersion, kind, verifiedAt, verifierVersion, verdict, tee, gpus, policy, warnings,
evidence; docs/schemas/verify-output.schema.json), -o yaml the same as YAML, -o text for people (verdict and
reasons, one line per check, a table of the GPUs).

Exit status: 0 the verdict passes; 1 it is at or beyond --fail-on, a threshold like a scanner's --fail-on
<severity>: warning (default: only affirming passes) or contraindicated (a warning passes too); 2 the command line
or the input is wrong (unreadable, not JSON, or not an evidence bundle: no "tee" object). The verdict is in the
output whatever the exit status.`;
