/*
 * A stand-in for libnvidia-ml.so.1 with the entry points and struct layouts trustgate's NVML provider binds, for
 * testing the FFI declarations without a GPU. Device 0 is a Hopper, device 1 a Blackwell; each "attestation
 * report" is one marker byte followed by the nonce it was given, and each "chain" one tiny DER SEQUENCE.
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

static struct fake_device devices[2] = {{0}, {1}};
static int initialized = 0;
static int fail_reports = 0;

void fake_nvml_fail_reports(int fail) { fail_reports = fail; }
int fake_nvml_initialized(void) { return initialized; }

int nvmlInit_v2(void) { initialized++; return 0; }
int nvmlShutdown(void) { initialized--; return 0; }
const char *nvmlErrorString(int result) { return result == 3 ? "Not Supported" : "Unknown Error"; }

int nvmlSystemGetDriverVersion(char *version, unsigned int length) {
  if (length < 10) return 7;
  strcpy(version, "550.90.07");
  return 0;
}

int nvmlDeviceGetCount_v2(unsigned int *count) { *count = 2; return 0; }

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  if (index >= 2) return 2;
  *device = &devices[index];
  return 0;
}

int nvmlDeviceGetArchitecture(nvmlDevice_t device, unsigned int *arch) {
  *arch = device->index == 0 ? 9 : 10;
  return 0;
}

int nvmlDeviceGetVbiosVersion(nvmlDevice_t device, char *version, unsigned int length) {
  snprintf(version, length, "96.00.9F.00.0%u", device->index + 1);
  return 0;
}

int nvmlDeviceGetConfComputeGpuAttestationReport(nvmlDevice_t device, report_t *report) {
  if (fail_reports) return 3;
  report->isCecAttestationReportPresent = 0;
  report->attestationReportSize = 33;
  report->attestationReport[0] = (unsigned char)(0xa0 + device->index);
  memcpy(report->attestationReport + 1, report->nonce, 32);
  return 0;
}

int nvmlDeviceGetConfComputeGpuCertificate(nvmlDevice_t device, certificate_t *certificate) {
  const unsigned char der[] = {0x30, 0x03, 0x02, 0x01, (unsigned char)device->index};
  certificate->certChainSize = 0;
  certificate->attestationCertChainSize = sizeof der;
  memcpy(certificate->attestationCertChain, der, sizeof der);
  return 0;
}
