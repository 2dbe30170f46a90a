/*
 * A stand-in for libnvidia-ml.so.1 with the entry points and struct layouts trustgate's NVML provider binds, for
 * testing the FFI declarations without a GPU. Device 0 is a Hopper, device 1 a Blackwell; each "attestation
 * report" is one marker byte followed by the nonce it was given, and each "chain" one tiny DER SEQUENCE.
 *
 * The CC system state and the ready state behave as the open GPU kernel modules' conf_compute_api.c does: the
 * driver refuses work until the GPUs are set ready; setting them not ready once they were ready is final (every
 * later set fails with an invalid argument until the driver is reloaded); setting the state is a privileged control
 * (NVML_ERROR_NO_PERMISSION without CAP_SYS_ADMIN). fake_cuda_launch() stands for any CUDA work. The fake_nvml_*
 * functions are the test's controls, not NVML.
 */
#include <stdio.h>
#include <string.h>

struct fake_device { unsigned int index; };
typedef struct fake_device *nvmlDevice_t;

typedef struct {
  unsigned int isCecAttestationReportPresent;
  unsigned int attestationReportSize;
  unsigned int cecAttestationReportSize;
  unsigned char nonce[0x20];
  unsigned char attestationReport[0x2000];
  unsigned char cecAttestationReport[0x1000];
} report_t;

typedef struct {
  unsigned int certChainSize;
  unsigned int attestationCertChainSize;
  unsigned char certChain[0x1000];
  unsigned char attestationCertChain[0x1400];
} certificate_t;

typedef struct {
  unsigned int environment;
  unsigned int ccFeature;
  unsigned int devToolsMode;
} cc_system_state_t;

typedef struct {
  unsigned int version;
  unsigned int environment;
  unsigned int ccFeature;
  unsigned int devToolsMode;
  unsigned int multiGpuMode;
} cc_settings_t;

#define CC_SETTINGS_V1 ((unsigned int)(sizeof(cc_settings_t) | (1u << 24)))

static struct fake_device devices[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};

/*
 * Recorded devices (fake_nvml_record_device): when any are loaded they replace the two built-in ones; each is a
 * Hopper answering only the nonce its report was made for (NVML_ERROR_UNKNOWN for any other), as a recorded
 * report can answer nothing else.
 */
struct recorded_device {
  unsigned char nonce[0x20];
  unsigned int report_size;
  unsigned char report[0x2000];
  unsigned int chain_size;
  unsigned char chain[0x1400];
  char vbios[32];
};
static struct recorded_device recorded[8];
static unsigned int recorded_count = 0;

int fake_nvml_record_device(const unsigned char *nonce, const unsigned char *report, unsigned int report_size,
                            const unsigned char *chain, unsigned int chain_size, const char *vbios) {
  if (recorded_count >= 8 || report_size > sizeof recorded[0].report || chain_size > sizeof recorded[0].chain ||
      strlen(vbios) >= sizeof recorded[0].vbios)
    return -1;
  struct recorded_device *d = &recorded[recorded_count++];
  memcpy(d->nonce, nonce, sizeof d->nonce);
  d->report_size = report_size;
  memcpy(d->report, report, report_size);
  d->chain_size = chain_size;
  memcpy(d->chain, chain, chain_size);
  strcpy(d->vbios, vbios);
  return 0;
}
void fake_nvml_forget_devices(void) { recorded_count = 0; }
static int initialized = 0;
static int fail_reports = 0;
static cc_settings_t cc = {CC_SETTINGS_V1, 2 /* PROD */, 1 /* on */, 0 /* devtools off */, 0 /* no PPCIe */};
static int settings_supported = 1;
static int privileged = 1;
static unsigned int ready = 0;
static int fatal = 0;

void fake_nvml_fail_reports(int fail) { fail_reports = fail; }
int fake_nvml_initialized(void) { return initialized; }
void fake_nvml_set_cc(unsigned int environment, unsigned int feature, unsigned int devtools, unsigned int multigpu) {
  cc.environment = environment;
  cc.ccFeature = feature;
  cc.devToolsMode = devtools;
  cc.multiGpuMode = multigpu;
}
void fake_nvml_settings_supported(int supported) { settings_supported = supported; }
void fake_nvml_privileged(int caller_has_cap_sys_admin) { privileged = caller_has_cap_sys_admin; }
/* A driver reload (a CVM reboot): not ready, and READY can be set again. */
void fake_nvml_reload_driver(void) { ready = 0; fatal = 0; }
/* Any CUDA work: the driver in CC mode refuses it (1) until the GPUs are ready. */
int fake_cuda_launch(void) { return ready ? 0 : 1; }

int nvmlInit_v2(void) { initialized++; return 0; }
int nvmlShutdown(void) { initialized--; return 0; }
const char *nvmlErrorString(int result) {
  switch (result) {
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 25: return "Argument Version Mismatch";
    default: return "Unknown Error";
  }
}

int nvmlSystemGetDriverVersion(char *version, unsigned int length) {
  if (length < 10) return 7;
  strcpy(version, "550.90.07");
  return 0;
}

int nvmlDeviceGetCount_v2(unsigned int *count) { *count = recorded_count ? recorded_count : 2; return 0; }

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  if (index >= (recorded_count ? recorded_count : 2)) return 2;
  *device = &devices[index];
  return 0;
}

int nvmlDeviceGetArchitecture(nvmlDevice_t device, unsigned int *arch) {
  *arch = recorded_count || device->index == 0 ? 9 : 10;
  return 0;
}

int nvmlDeviceGetVbiosVersion(nvmlDevice_t device, char *version, unsigned int length) {
  if (recorded_count) snprintf(version, length, "%s", recorded[device->index].vbios);
  else snprintf(version, length, "96.00.9F.00.0%u", device->index + 1);
  return 0;
}

int nvmlDeviceGetConfComputeGpuAttestationReport(nvmlDevice_t device, report_t *report) {
  if (fail_reports) return 3;
  if (recorded_count) {
    struct recorded_device *d = &recorded[device->index];
    if (memcmp(report->nonce, d->nonce, sizeof d->nonce) != 0) return 999;
    report->isCecAttestationReportPresent = 0;
    report->attestationReportSize = d->report_size;
    memcpy(report->attestationReport, d->report, d->report_size);
    return 0;
  }
  report->isCecAttestationReportPresent = 0;
  report->attestationReportSize = 33;
  report->attestationReport[0] = (unsigned char)(0xa0 + device->index);
  memcpy(report->attestationReport + 1, report->nonce, 32);
  return 0;
}

int nvmlDeviceGetConfComputeGpuCertificate(nvmlDevice_t device, certificate_t *certificate) {
  if (recorded_count) {
    struct recorded_device *d = &recorded[device->index];
    certificate->certChainSize = 0;
    certificate->attestationCertChainSize = d->chain_size;
    memcpy(certificate->attestationCertChain, d->chain, d->chain_size);
    return 0;
  }
  const unsigned char der[] = {0x30, 0x03, 0x02, 0x01, (unsigned char)device->index};
  certificate->certChainSize = 0;
  certificate->attestationCertChainSize = sizeof der;
  memcpy(certificate->attestationCertChain, der, sizeof der);
  return 0;
}

int nvmlSystemGetConfComputeState(cc_system_state_t *state) {
  if (initialized <= 0) return 1;
  state->environment = cc.environment;
  state->ccFeature = cc.ccFeature;
  state->devToolsMode = cc.devToolsMode;
  return 0;
}

int nvmlSystemGetConfComputeSettings(cc_settings_t *settings) {
  if (initialized <= 0) return 1;
  if (!settings_supported) return 3;
  if (settings->version != CC_SETTINGS_V1) return 25;
  *settings = cc;
  return 0;
}

int nvmlSystemGetConfComputeGpusReadyState(unsigned int *isAcceptingWork) {
  if (initialized <= 0) return 1;
  *isAcceptingWork = ready;
  return 0;
}

int nvmlSystemSetConfComputeGpusReadyState(unsigned int isAcceptingWork) {
  if (initialized <= 0) return 1;
  if (!privileged) return 4;
  if (isAcceptingWork > 1 || fatal) return 2;
  if (ready && !isAcceptingWork) fatal = 1;
  ready = isAcceptingWork;
  return 0;
}
