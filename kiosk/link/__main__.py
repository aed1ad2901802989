"""The tablet's sync from the command line.

    python -m kiosk.link --config PATH --once      send everything pending; exit 1 if anything is left
    python -m kiosk.link pair --config PATH        pair with the server in config.yaml (prints code, URL, QR)
    python -m kiosk.link roster --config PATH      fetch the roster (officers, portraits, settings)
    python -m kiosk.link status --config PATH      what is pending, last success, last error
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_OK, EXIT_LEFT, EXIT_SETUP = 0, 1, 2


def _settings(path: str):
    from kiosk.config import ConfigError, load_settings

    try:
        settings = load_settings(path)
    except ConfigError as exc:
        print(exc.line(), file=sys.stderr)
        raise SystemExit(EXIT_SETUP) from None
    if not settings.server_url:
        print("server.url is not set in the config", file=sys.stderr)
        raise SystemExit(EXIT_SETUP)
    return settings


def _upload(args: argparse.Namespace) -> int:
    from kiosk.link.backoff import Backoff
    from kiosk.link.uploader import Uploader
    from kiosk.store import Store

    settings = _settings(args.config)
    if not args.once:
        print("only --once is offered on the command line; the app runs the uploader in the background",
              file=sys.stderr)
        return EXIT_SETUP
    uploader = Uploader(settings.database, settings.server_url, batch_size=args.batch_size,
                        backoff=Backoff(base_s=0.5, cap_s=10.0))
    status = uploader.run_once(max_attempts=args.attempts)
    print(f"state: {status.state}  sent: {status.sent_this_session}  left: {status.pending}"
          f"  conflicts: {status.conflicts_this_session}")
    if status.last_error and status.pending:
        print(f"last error: {status.last_error}", file=sys.stderr)
    store = Store(settings.database)
    try:
        left = store.pending_count()
    finally:
        store.close()
    return EXIT_OK if left == 0 else EXIT_LEFT


def _pair(args: argparse.Namespace) -> int:
    from kiosk import __version__
    from kiosk.link.credentials import save_credentials
    from kiosk.link.pairing import PairingClient, PairingFailed, qr_text
    from kiosk.link.sealing import seal_after_pairing
    from kiosk.link.transport import TransportError
    from kiosk.store import Store

    settings = _settings(args.config)
    store = Store(settings.database)
    try:
        device_id, secret_path = store.device_id, store.device_secret_path
    finally:
        store.close()
    client = PairingClient(settings.server_url)
    try:
        authorization = client.start(device_id, args.label or settings.counter_name, __version__)
    except (TransportError, PairingFailed) as exc:
        print(f"cannot start pairing: {exc}", file=sys.stderr)
        return EXIT_SETUP
    print(f"Mã ghép nối / pairing code: {authorization.user_code}")
    print(f"Duyệt tại / approve at: {authorization.verification_uri_complete}")
    print(f"(on the server: python -m server approve {authorization.user_code} --db …)")
    if not args.no_qr:
        print(qr_text(authorization.verification_uri_complete))
    sys.stdout.flush()
    try:
        credentials = client.wait(authorization)
    except PairingFailed as exc:
        print(f"pairing failed: {exc}", file=sys.stderr)
        return EXIT_LEFT
    save_credentials(secret_path, credentials)
    print(f"paired as {credentials.device_id}; secret kept in {secret_path.name} beside the database")
    sealing = seal_after_pairing(settings.database, credentials, settings.server_url)
    print(f"sealing key: {sealing}" + ("" if sealing == "registered" else " (the uploader tries again)"))
    return EXIT_OK


def _roster(args: argparse.Namespace) -> int:
    from kiosk.link.credentials import load_credentials
    from kiosk.link.roster import RosterError, RosterSync, roster_directory
    from kiosk.link.transport import ServerLink, TransportError
    from kiosk.store import Store

    settings = _settings(args.config)
    store = Store(settings.database)
    try:
        credentials = load_credentials(store.device_secret_path)
    finally:
        store.close()
    if credentials is None:
        print("not paired yet: python -m kiosk.link pair --config …", file=sys.stderr)
        return EXIT_SETUP
    sync = RosterSync(roster_directory(settings.database), ServerLink(settings.server_url, credentials))
    try:
        roster = sync.fetch()
    except (TransportError, RosterError) as exc:
        print(f"roster not fetched: {exc}; the last copy is kept", file=sys.stderr)
        return EXIT_LEFT
    if roster is None:
        print("roster unchanged")
    else:
        print(f"roster updated: {len(roster['officers'])} officers, {len(roster.get('counters', []))} counters")
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from kiosk.store import Store

    settings = _settings(args.config)
    store = Store(settings.database)
    try:
        print(f"device: {store.device_id}")
        print(f"paired: {'yes' if store.device_secret_path.exists() else 'no'}")
        print(f"pending: {store.pending_count()}")
        print(f"last success: {store.outbox_state('last_success') or 'never'}")
        print(f"last error: {store.outbox_state('last_error') or 'none'}")
    finally:
        store.close()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m kiosk.link``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"pair": _pair, "roster": _roster, "status": _status, "upload": _upload}
    command = argv.pop(0) if argv and argv[0] in commands else "upload"
    parser = argparse.ArgumentParser(prog=f"python -m kiosk.link{'' if command == 'upload' else ' ' + command}",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the tablet's config.yaml")
    if command == "upload":
        parser.add_argument("--once", action="store_true", help="one pass: send everything pending, then exit")
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--attempts", type=int, default=5, help="failures in a row before giving up")
    if command == "pair":
        parser.add_argument("--label", help="name shown to the technician (default: the counter's name)")
        parser.add_argument("--no-qr", action="store_true", help="do not draw the QR code")
    return commands[command](parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
