"""Run the test eMSP on a loopback port until terminated."""

from __future__ import annotations

import argparse

import uvicorn

from tests.emsp.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.emsp")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--raw-tokens", action="store_true", help="send tokens unencoded")
    parser.add_argument(
        "--versions", default="2.2.1,2.1.1", help="versions to offer, comma-separated"
    )
    args = parser.parse_args()
    app = create_app(
        f"http://{args.host}:{args.port}",
        raw_tokens=args.raw_tokens,
        versions=args.versions.split(","),
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
