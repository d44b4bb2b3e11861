"""Run the backend simulator alone: ``python -m kiosk.simulator --port 8080`` (add
``--cert cert.pem --key key.pem`` to serve HTTPS, as a venue backend serves its files)."""

from __future__ import annotations

import argparse
import logging
import ssl
import time
from pathlib import Path

from kiosk import console
from kiosk.simulator.server import Simulator


def main(argv: list[str] | None = None) -> None:
    console.make_safe()  # run alone (python -m kiosk.simulator), not through main.py
    parser = argparse.ArgumentParser(
        prog="python -m kiosk.simulator", description="Venue backend simulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--rate", type=float, default=1.32, help="charge per minute")
    parser.add_argument("--report-timeout", type=float, default=60, metavar="SECONDS")
    parser.add_argument("--files", type=Path, help="folder with background.png and video.mp4")
    parser.add_argument("--service-num", default="13738196887")
    parser.add_argument("--cert", type=Path, help="serve HTTPS with this PEM certificate")
    parser.add_argument("--key", type=Path, help="the certificate's PEM private key")
    args = parser.parse_args(argv)
    if args.files is not None and not args.files.is_dir():
        parser.error(f"--files: {args.files} is not a folder")
    tls = None
    if args.cert is not None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            tls.load_cert_chain(args.cert, args.key)
        except (OSError, ssl.SSLError) as error:
            parser.error(f"--cert/--key: {error}")

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    simulator = Simulator(
        rate_per_min=args.rate,
        report_timeout_s=args.report_timeout,
        files_dir=args.files,
        service_num=args.service_num,
        tls=tls,
    )
    try:
        url = simulator.start(args.host, args.port)
    except OSError as error:
        parser.exit(1, f"cannot listen on {args.host}:{args.port}: {error}\n")
    print(f"simulator running, control page: {url}/  (Ctrl+C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)  # time.sleep, unlike Event.wait, is interruptible on Windows
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
