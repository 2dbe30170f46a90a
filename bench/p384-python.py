"""P-384 / SHA-384 ECDSA verify rate of Python's `cryptography` (issue 18 item 4; see docs/p384-floor.md).

    python3 -m venv .cache/pyvenv && .cache/pyvenv/bin/pip install cryptography
    taskset -c 1 .cache/pyvenv/bin/python bench/p384-python.py [seconds] [rounds]

Same message size (672 bytes) and rate definition (per CPU-second of the process) as bench/p384-runtimes.ts.
"""

import resource
import sys
import time

from cryptography.hazmat.backends.openssl import backend
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
import cryptography


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    key = ec.generate_private_key(ec.SECP384R1())
    public = key.public_key()
    data = b"\x07" * 672
    signature = key.sign(data, ec.ECDSA(hashes.SHA384()))
    rates = []
    for _ in range(rounds):
        started, cpu, count = time.perf_counter(), cpu_seconds(), 0
        while time.perf_counter() - started < seconds:
            for _ in range(20):
                public.verify(signature, data, ec.ECDSA(hashes.SHA384()))
            count += 20
        rates.append(count / (cpu_seconds() - cpu))
    rates.sort()
    print(
        f"cryptography {cryptography.__version__} ({backend.openssl_version_text()}), "
        f"{rounds} rounds of {seconds} s: P-384 verify {rates[len(rates) // 2]:,.0f} per CPU-second (median)"
    )


main()
