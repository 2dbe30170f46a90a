/*
 * A stand-in for libnvidia-nscq.so.2 with the entry points, paths, callback signatures and struct layouts that
 * NVIDIA's nscq_attestation.h / nscq_attestation_path.h (nvtrust attestation_sdk, nv_switch_verifier/nscq) declare,
 * for testing trustgate's FFI declarations without an NVSwitch. The test loads, per switch, a UUID and the
 * attestation report and certificate chain recorded for one nonce (real hardware signs whatever nonce it gets; a
 * recorded report can only answer the nonce it was made for): asking for a report with another nonce is a driver
 * error (NSCQ_RC_ERROR_DRV), as a mismatched report would be useless anyway. fake_nscq_* are test controls.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int8_t nscq_rc_t;
typedef struct { uint8_t bytes[16]; } nscq_uuid_t;
typedef struct { char data[64]; } nscq_label_t;
typedef struct { uint32_t report_size; uint8_t report[0x2000]; } nscq_attestation_report_t;
typedef struct { uint8_t cert_chain[0x1400]; uint32_t cert_chain_size; } nscq_attestation_certificate_t;
typedef struct nscq_session_st { int open; } *nscq_session_t;
typedef struct { nscq_rc_t rc; nscq_session_t session; } nscq_session_result_t;
typedef void (*nscq_fn_t)(void);

typedef void (*uuid_cb)(const nscq_uuid_t *, nscq_rc_t, const nscq_uuid_t *, void *);
typedef void (*arch_cb)(const nscq_uuid_t *, nscq_rc_t, int8_t, void *);
typedef void (*mode_cb)(const nscq_uuid_t *, nscq_rc_t, int8_t, void *);
typedef void (*report_cb)(const nscq_uuid_t *, nscq_rc_t, nscq_attestation_report_t, void *);
typedef void (*cert_cb)(const nscq_uuid_t *, nscq_rc_t, nscq_attestation_certificate_t, void *);

#define MAX_SWITCHES 8
struct fake_switch {
  nscq_uuid_t uuid;
  uint8_t nonce[32];
  nscq_attestation_report_t report;
  nscq_attestation_certificate_t certificate;
  int8_t pcie_mode;
};

static struct fake_switch switches[MAX_SWITCHES];
static int switch_count = 0;
static struct nscq_session_st session_storage;
static int sessions_open = 0;
static uint8_t input[32];
static uint32_t input_size = 0;

void fake_nscq_reset(void) { switch_count = 0; input_size = 0; }
int fake_nscq_sessions_open(void) { return sessions_open; }

int fake_nscq_add_switch(const uint8_t *uuid, const uint8_t *nonce, const uint8_t *report, uint32_t report_size,
                         const uint8_t *chain, uint32_t chain_size) {
  if (switch_count >= MAX_SWITCHES || report_size > sizeof(switches[0].report.report) ||
      chain_size > sizeof(switches[0].certificate.cert_chain))
    return -1;
  struct fake_switch *s = &switches[switch_count++];
  memset(s, 0, sizeof(*s));
  memcpy(s->uuid.bytes, uuid, 16);
  memcpy(s->nonce, nonce, 32);
  s->report.report_size = report_size;
  memcpy(s->report.report, report, report_size);
  s->certificate.cert_chain_size = chain_size;
  memcpy(s->certificate.cert_chain, chain, chain_size);
  s->pcie_mode = 0x3; /* TNVL (bit 0) and locked (bit 1) */
  return 0;
}

nscq_session_result_t nscq_session_create(uint32_t flags) {
  nscq_session_result_t result = {0, &session_storage};
  (void)flags;
  sessions_open++;
  session_storage.open = 1;
  return result;
}

void nscq_session_destroy(nscq_session_t session) {
  if (session == &session_storage && sessions_open > 0) sessions_open--;
}

nscq_rc_t nscq_uuid_to_label(const nscq_uuid_t *uuid, nscq_label_t *label, uint32_t flags) {
  (void)flags;
  memset(label, 0, sizeof(*label));
  strcpy(label->data, "SWX-");
  for (int i = 0; i < 16; i++) sprintf(label->data + 4 + 2 * i, "%02x", uuid->bytes[i]);
  return 0;
}

nscq_rc_t nscq_session_set_input(nscq_session_t session, uint32_t flags, void *data, uint32_t size) {
  (void)session; (void)flags;
  if (size > sizeof(input)) return -4; /* NSCQ_RC_ERROR_OVERFLOW */
  memcpy(input, data, size);
  input_size = size;
  return 0;
}

/* "/{nvswitch}/..." addresses every switch; "/<label>/..." one. Returns the suffix, or NULL when no match. */
static const char *for_switch(const char *path, const struct fake_switch *s) {
  if (strncmp(path, "/{nvswitch}/", 12) == 0) return path + 11;
  nscq_label_t label;
  nscq_uuid_to_label(&s->uuid, &label, 0);
  size_t n = strlen(label.data);
  if (path[0] == '/' && strncmp(path + 1, label.data, n) == 0 && path[1 + n] == '/') return path + 1 + n;
  return NULL;
}

nscq_rc_t nscq_session_path_observe(nscq_session_t session, const char *path, nscq_fn_t callback, void *user_data,
                                    uint32_t flags) {
  (void)flags;
  if (session != &session_storage || sessions_open == 0) return -128;
  if (strcmp(path, "/drv/nvswitch/{device}/uuid") == 0) {
    for (int i = 0; i < switch_count; i++)
      ((uuid_cb)callback)(&switches[i].uuid, 0, &switches[i].uuid, user_data);
    return 0;
  }
  int matched = 0;
  for (int i = 0; i < switch_count; i++) {
    struct fake_switch *s = &switches[i];
    const char *suffix = for_switch(path, s);
    if (suffix == NULL) continue;
    matched = 1;
    if (strcmp(suffix, "/id/arch") == 0) {
      ((arch_cb)callback)(&s->uuid, 0, 2 /* NSCQ_ARCH_LS10 */, user_data);
    } else if (strcmp(suffix, "/config/pcie_mode") == 0) {
      ((mode_cb)callback)(&s->uuid, 0, s->pcie_mode, user_data);
    } else if (strcmp(suffix, "/config/certificate") == 0) {
      ((cert_cb)callback)(&s->uuid, 0, s->certificate, user_data);
    } else if (strcmp(suffix, "/config/attestation_report") == 0) {
      nscq_attestation_report_t empty;
      memset(&empty, 0, sizeof(empty));
      if (input_size != 32 || memcmp(input, s->nonce, 32) != 0)
        ((report_cb)callback)(&s->uuid, -7 /* NSCQ_RC_ERROR_DRV */, empty, user_data);
      else
        ((report_cb)callback)(&s->uuid, 0, s->report, user_data);
    } else {
      return -1; /* NSCQ_RC_ERROR_NOT_IMPLEMENTED */
    }
  }
  return matched ? 0 : -2; /* NSCQ_RC_ERROR_INVALID_UUID */
}
