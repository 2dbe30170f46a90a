"""Verifies NVIDIA GPU evidence items with nv-local-gpu-verifier (its own cc_admin.attest), offline.

Usage: python nv_local_gpu_verifier_peer.py <input.json> <output.json>

The verifier has no offline mode. Exactly these are stubbed, and nothing else (see bench/peers/README.md):
  * CcAdminUtils.fetch_rim_file: serves the RIM whose file name starts with the requested RIM id from the item's
    fixture files instead of NVIDIA's RIM service (RIMFetchError, as the service's 404 gives, when there is none).
  * CcAdminUtils.ocsp_certificate_chain_validation: returns "not revoked" without asking NVIDIA's OCSP responder
    (its responses are signed live and cannot be replayed); trustgate runs with revocation unchecked too.
  * OpenSSL.crypto.X509Store (the verifier's chain checks) and OpenSSL.SSL.Context.get_cert_store (signxml's RIM
    signer chain check): every certificate store has its verification time pinned to the item's manifest time, so
    certificate validity is judged then, not today.
  * NvmlHandler.is_cc_dev_mode / get_gpu_ready_state: there is no GPU here (the evidence is the fixture's); the
    verifier asks NVML for them only after a failure, and in user mode it never sets the ready state.
The evidence object handed to attest() carries the fixture's report, certificate chain and the driver/VBIOS versions
NVML would report, in the shape of the verifier's own NVML handler.
"""

import base64
import json
import resource
import sys
import time
from datetime import datetime, timezone

from OpenSSL import SSL, crypto

PINNED = {"at": datetime.now(timezone.utc)}
_X509Store = crypto.X509Store


class PinnedTimeX509Store(_X509Store):
    def __init__(self):
        super().__init__()
        self.set_time(PINNED["at"].replace(tzinfo=None))


crypto.X509Store = PinnedTimeX509Store
_get_cert_store = SSL.Context.get_cert_store


def pinned_cert_store(self):
    store = _get_cert_store(self)
    if store is not None:
        store.set_time(PINNED["at"].replace(tzinfo=None))
    return store


SSL.Context.get_cert_store = pinned_cert_store

from verifier import cc_admin  # noqa: E402  (after the clock is pinned: signxml imports X509Store)
from importlib.metadata import version  # noqa: E402
from verifier.cc_admin_utils import CcAdminUtils  # noqa: E402
from verifier.exceptions import RIMFetchError  # noqa: E402
from verifier.nvml import NvmlHandler  # noqa: E402

RIMS = {"files": []}


def fetch_rim_file(file_id):
    for path in RIMS["files"]:
        if path.rsplit("/", 1)[-1].startswith(file_id):
            with open(path, "r", encoding="utf-8") as f:
                return f.read()
    raise RIMFetchError(f"offline: no fixture RIM for {file_id}")


def ocsp_not_revoked(cert_chain, settings, mode):
    for i, cert in enumerate(cert_chain):  # the original converts the chain in place; callers rely on that
        if hasattr(cert, "to_cryptography"):
            cert_chain[i] = cert.to_cryptography()
    return True, "", "good", None


CcAdminUtils.fetch_rim_file = staticmethod(fetch_rim_file)
CcAdminUtils.ocsp_certificate_chain_validation = staticmethod(ocsp_not_revoked)
NvmlHandler.is_cc_dev_mode = staticmethod(lambda: False)
NvmlHandler.get_gpu_ready_state = staticmethod(lambda: False)

HOPPER = 9  # NVML_DEVICE_ARCH_HOPPER


class FixtureGpu:
    """What the verifier's NVML handler returns for one GPU, from a fixture item."""

    def __init__(self, item):
        fields = item["fields"]
        self.report = base64.b64decode(fields["evidence"])
        pems = fields["certChain"].split("-----END CERTIFICATE-----")
        self.pems = [p + "-----END CERTIFICATE-----\n" for p in pems if "BEGIN CERTIFICATE" in p]
        self.driver = fields.get("driverVersion", "")
        self.vbios = fields.get("vbiosVersion", "")

    def get_gpu_architecture(self):
        return HOPPER

    def get_uuid(self):
        return "GPU-fixture"

    def get_driver_version(self):
        return self.driver

    def get_vbios_version(self):
        return self.vbios

    def get_attestation_report(self):
        return self.report

    def get_attestation_cert_chain(self):
        # A fresh list each call: the verifier converts the list's entries in place.
        return [crypto.load_certificate(crypto.FILETYPE_PEM, p.encode()) for p in self.pems]


ARGUMENTS = {
    "verbose": False,
    "test_no_gpu": False,
    "driver_rim": None,
    "vbios_rim": None,
    "user_mode": True,
    "allow_hold_cert": False,
    "service_key": None,
    "nonce": None,
    "rim_root_cert": None,
    "rim_service_url": None,
    "ocsp_url": None,
    "ocsp_nonce_disabled": True,
    "claims_version": "2.0",
}


def verify(item):
    PINNED["at"] = datetime.fromisoformat(item["at"].replace("Z", "+00:00"))
    RIMS["files"] = json.loads(item["fields"].get("rimFiles", "[]"))
    result = cc_admin.attest(dict(ARGUMENTS), item["fields"]["nonce"], [FixtureGpu(item)])
    if result is None or not result[0]:
        raise RuntimeError("attestation failed")


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def last_error(verify_item, item):
    """The verifier logs its reason and returns False; capture the last error it logged."""
    import logging

    messages = []

    class Keep(logging.Handler):
        def emit(self, record):
            message = record.getMessage().strip()
            if record.levelno >= logging.ERROR and message not in ("GPU Attestation failed", ""):
                messages.append(message)

    handler = Keep()
    logging.getLogger().addHandler(handler)
    for name in logging.root.manager.loggerDict:
        logging.getLogger(name).addHandler(handler)
    try:
        verify_item(item)
        return None
    except Exception as error:  # noqa: BLE001  (the peer's verdict, whatever it raised)
        return "; ".join(dict.fromkeys(messages)) or str(error)
    finally:
        for name in logging.root.manager.loggerDict:
            logging.getLogger(name).removeHandler(handler)
        logging.getLogger().removeHandler(handler)


def main():
    if len(sys.argv) != 3:
        print(f"usage: {sys.argv[0]} <input.json> <output.json>", file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    output = {"peer": "nv-local-gpu-verifier", "version": version("nv-local-gpu-verifier"), "items": [], "rates": []}
    by_name = {}
    for item in job["items"]:
        by_name[item["name"]] = item
        started, started_cpu = time.perf_counter(), cpu_seconds()
        error = last_error(verify, item)
        result = {"name": item["name"], "verdict": "accept" if error is None else "reject",
                  "firstMs": (time.perf_counter() - started) * 1000,
                  "firstCpuMs": (cpu_seconds() - started_cpu) * 1000}
        if error is not None:
            result["error"] = error
        output["items"].append(result)
    for name in job["timed"]:
        item = by_name.get(name)
        if item is None:
            output["rates"].append({"name": name, "error": "no such item"})
            continue
        rate = {"name": name, "count": 0}
        try:
            window = job["seconds"]
            start_cpu, start = cpu_seconds(), time.perf_counter()
            while time.perf_counter() - start < window:
                verify(item)
                rate["count"] += 1
            rate["cpuSeconds"] = cpu_seconds() - start_cpu
            rate["perSecond"] = rate["count"] / rate["cpuSeconds"] if rate["cpuSeconds"] > 0 else 0
            rate["wallPerSecond"] = rate["count"] / (time.perf_counter() - start)
        except Exception as error:  # noqa: BLE001
            rate["error"] = str(error)
        output["rates"].append(rate)
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(output, f)


if __name__ == "__main__":
    main()
