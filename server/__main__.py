"""The commune server's command line.

    python -m server --db PATH [--host HOST] [--port PORT]   serve the API
    python -m server pairings --db PATH                       pairing requests waiting
    python -m server approve CODE --db PATH [--replace-active]
                                                              approve a tablet's code
    python -m server deny CODE --db PATH                      refuse it
    python -m server revoke DEVICE --db PATH [--reason TEXT]  refuse a device's uploads
    python -m server devices --db PATH [--json]               device health
    python -m server export --db PATH [--format csv|xlsx] [--out F] [--from DAY] [--to DAY]
                                                              ratings with names and local times
    python -m server roster --db PATH --from FILE             import the roster to push
    python -m server backup --db PATH --out FILE              copy the SQLite database, safely while serving
    python -m server restore --db PATH --from FILE [--force]  put a backup in place (server stopped)
    python -m server create-admin --db PATH --username NAME [--password-stdin]
                                                              the first dashboard account
    python -m server erase-expired --db PATH                  erase citizens' comments and call-back numbers past
                                                              their retention
    python -m server erase-callback --db PATH --rating UUID   erase a rating's call-back number (citizen's request)
    python -m server archive --db PATH --period 2026-H1 --out FILE
                                                              a period's evidence archive (ZIP, SHA-256 manifest)
    python -m server verify-archive FILE                      check an evidence archive against its manifest
    python -m server letter-templates --out DIR               write the letters' templates out to edit

``--db`` is a SQLite file path or a SQLAlchemy URL (PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from server.limits import add_limit_arguments, limits_from_arguments
from server.registry import DeviceRegistry, PairingError, visible_text
from server.store import open_engine
from sync.protocol import SIGNED_GET_WINDOW_S

if TYPE_CHECKING:
    from sqlalchemy import Engine

COMMANDS = ("approve", "deny", "revoke", "devices", "pairings", "export", "roster", "backup", "restore",
            "create-admin", "erase-expired", "erase-callback", "letter-templates", "archive", "verify-archive")


def _serve(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m server", description="Serve the commune server's API.",
                                     epilog="Commands: " + ", ".join(COMMANDS) + " (python -m server CMD --help)")
    parser.add_argument("--db", required=True, help="SQLite file path or SQLAlchemy URL")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for the commune LAN)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--public-url", help="the address tablets and phones use (for the approval QR code)")
    parser.add_argument("--clock-threshold", type=float, default=300.0,
                        help="flag devices whose clock is off by more than this many seconds (default 300)")
    parser.add_argument("--pair-interval", type=int, default=5, help="seconds between a tablet's pairing polls")
    parser.add_argument("--pair-lifetime", type=int, default=900, help="seconds a pairing code stays valid")
    parser.add_argument("--signed-get-window", type=float, default=SIGNED_GET_WINDOW_S,
                        help="refuse signed GETs whose timestamp is further than this many seconds from the "
                             f"server's clock, as possible replays (default {SIGNED_GET_WINDOW_S})")
    parser.add_argument("--certfile", help="serve HTTPS with this PEM certificate (full chain); needs --keyfile")
    parser.add_argument("--keyfile", help="the certificate's PEM private key (not password-protected)")
    parser.add_argument("--behind-proxy", nargs="?", const="127.0.0.1", metavar="ADDRESS",
                        help="a reverse proxy at ADDRESS (default 127.0.0.1; a comma-separated list or networks "
                             "allowed) terminates TLS: trust its X-Forwarded-For/-Proto, and nobody else's")
    parser.add_argument("--timezone", help="the commune's time zone, kept in the settings (default "
                                           "Asia/Ho_Chi_Minh): every time shown and every day counted is local")
    parser.add_argument("--letter-templates", metavar="DIR",
                        help="a folder of edited letter templates (python -m server letter-templates --out DIR): "
                             "a file there replaces the shipped one of the same name")
    add_limit_arguments(parser)
    args = parser.parse_args(argv)
    limits = limits_from_arguments(args)

    from server.api import create_app
    from server.runner import proxy_options, serve, tls_options

    try:  # refuse bad TLS files before the database is opened
        tls_options(args.certfile, args.keyfile)
        proxy_options(args.behind_proxy)
    except ValueError as exc:
        parser.error(str(exc))

    engine = open_engine(args.db, wait_s=limits.db_wait_s)
    if args.timezone is not None:
        from server.settings import SettingError, save_setting

        try:
            save_setting(engine, "timezone", args.timezone)
        except SettingError:
            parser.error(f"--timezone: unknown time zone {args.timezone!r} (e.g. Asia/Ho_Chi_Minh)")
    app = create_app(
        engine, clock_threshold_s=args.clock_threshold, pair_interval_s=args.pair_interval,
        pair_lifetime_s=args.pair_lifetime, public_url=args.public_url, signed_get_window_s=args.signed_get_window,
        limits=limits,
    )
    if args.letter_templates:
        from dataclasses import replace
        from pathlib import Path

        if not Path(args.letter_templates).is_dir():
            parser.error(f"--letter-templates: no such folder {args.letter_templates!r}")
        app.state.launch = replace(app.state.launch, letter_templates=Path(args.letter_templates))
    serve(app, args.host, args.port, certfile=args.certfile, keyfile=args.keyfile, behind_proxy=args.behind_proxy)
    return 0


def _command(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m server")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("approve", "approve a tablet's pairing code"), ("deny", "refuse a pairing code")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("code", help="the code the tablet shows, e.g. BCDF-GHJK")
        p.add_argument("--db", required=True)
        if name == "approve":
            p.add_argument("--replace-active", action="store_true",
                           help="approve a request naming a device that is active now: it gets a new secret and "
                                "the tablet holding the current one is locked out (only when it was reset or "
                                "replaced)")
    p = sub.add_parser("revoke", help="refuse a device's uploads from now on")
    p.add_argument("device")
    p.add_argument("--reason", default="")
    p.add_argument("--db", required=True)
    p = sub.add_parser("devices", help="device health")
    p.add_argument("--db", required=True)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("pairings", help="pairing requests waiting for approval")
    p.add_argument("--db", required=True)
    p = sub.add_parser("export", help="the ratings with officer and counter names, local times, flags and reasons")
    p.add_argument("--db", required=True)
    p.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    p.add_argument("--out", help="file to write (default: standard output; required for xlsx)")
    p.add_argument("--from", dest="first", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="first local day (default: the first rating)")
    p.add_argument("--to", dest="last", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="last local day, included (default: the last rating)")
    p = sub.add_parser("roster", help="import the roster (officers, portraits, counters, reasons, settings)")
    p.add_argument("--db", required=True)
    p.add_argument("--from", dest="source", required=True, help="a YAML file shaped like config.yaml")
    p = sub.add_parser("backup", help="copy the SQLite database to a file, safely while the server runs")
    p.add_argument("--db", required=True)
    p.add_argument("--out", required=True, help="the backup file to write (replaced atomically)")
    p = sub.add_parser("restore", help="put a backup in place as the database (stop the server first)")
    p.add_argument("--db", required=True)
    p.add_argument("--from", dest="source", required=True, help="the backup file")
    p.add_argument("--force", action="store_true", help="replace an existing database (it is kept beside it)")
    p = sub.add_parser("create-admin", help="create a technician (admin) account for the dashboard")
    p.add_argument("--db", required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--display-name", default=None, help="the person's full name")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input instead of asking twice")
    p = sub.add_parser("letter-templates", help="write the shipped letter templates into a folder, to edit and "
                                                "serve with --letter-templates")
    p.add_argument("--out", required=True, help="the folder to write them to (made if missing)")
    p.add_argument("--force", action="store_true", help="replace templates already there")
    p = sub.add_parser("erase-expired", help="erase the text and phone number of citizens' comments older than "
                                             "the retention setting (comment_retention_days), and the call-back "
                                             "numbers of cases resolved over callback_retention_months ago; "
                                             "run it daily")
    p.add_argument("--db", required=True)
    p = sub.add_parser("erase-callback", help="erase the call-back number a citizen left on a tablet for a rating, "
                                              "at their request (its key is destroyed; the records still verify)")
    p.add_argument("--db", required=True)
    p.add_argument("--rating", required=True, help="the rating's UUID")
    p = sub.add_parser("archive", help="write a period's evidence archive: ratings CSV, devices' chain checks, "
                                       "the report (XLSX, PDF) and a SHA-256 manifest")
    p.add_argument("--db", required=True)
    p.add_argument("--period", required=True, help="2026, 2026-H1, 2026-Q2, 2026-03, 2026-W10 or FIRST..LAST")
    p.add_argument("--out", required=True, help="the ZIP file to write")
    p = sub.add_parser("verify-archive", help="check an evidence archive against its SHA-256 manifest")
    p.add_argument("file")
    args = parser.parse_args(argv)

    if args.command == "verify-archive":
        return _verify_archive(args.file)
    if args.command == "create-admin":
        return _create_admin(args.db, args.username, args.display_name, from_stdin=args.password_stdin)

    if args.command == "letter-templates":
        from server.letters import write_shipped_templates

        written = write_shipped_templates(args.out, overwrite=args.force)
        for path in written:
            print(f"written: {path}")
        if not written:
            print("nothing written: the templates are already there (--force replaces them)", file=sys.stderr)
        return 0

    if args.command in ("backup", "restore"):
        # Before open_engine: it would create an empty database at a wrong path.
        return _backup_or_restore(args)
    engine = open_engine(args.db)
    registry = DeviceRegistry(engine)
    try:
        if args.command in ("approve", "deny"):
            approve = args.command == "approve"
            pairing = registry.decide(args.code, approve=approve, replace_active=approve and args.replace_active)
            verb = "approved" if approve else "denied"
            print(f"{verb}: {pairing['user_code']} — device {visible_text(pairing['device_id'])} "
                  f"({visible_text(pairing['label']) or 'no label'})")
        elif args.command == "revoke":
            registry.revoke(args.device, args.reason)
            print(f"revoked: {args.device} (its uploads are refused; what it sent is kept)")
        elif args.command == "devices":
            _print_devices(registry.health(), as_json=args.json)
        elif args.command == "pairings":
            _print_pairings(registry.list_pairings())
        elif args.command == "export":
            return _export(engine, args, parser)
        elif args.command == "archive":
            return _archive(engine, args.period, args.out, parser)
        elif args.command == "erase-expired":
            from server.callback_numbers import erase_expired as erase_expired_callbacks
            from server.clock import utc_now
            from server.comments import erase_expired

            now = utc_now()
            print(f"comments erased: {erase_expired(engine, now)}")
            print(f"call-back numbers erased: {erase_expired_callbacks(engine, now)}")
        elif args.command == "erase-callback":
            from server.callback_numbers import erase_for_rating

            rating = args.rating.strip().lower()
            if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", rating):
                parser.error("--rating must be a rating's UUID")
            count = erase_for_rating(engine, rating, None)  # the server's own operator: no account
            print(f"call-back numbers erased: {count}")
            if count == 0:
                print("(no call-back number left for this rating, or it was erased before)", file=sys.stderr)
        elif args.command == "roster":
            from server.roster import RosterError, RosterStore

            try:
                document = RosterStore(engine).import_file(args.source)
            except RosterError as exc:
                print(f"roster not imported: {exc}", file=sys.stderr)
                return 2
            print(f"roster imported: {len(document['officers'])} officers, {len(document['counters'])} counters")
    except PairingError as exc:
        print(f"{exc.code}: {exc.detail}", file=sys.stderr)
        return 1
    return 0


def _print_pairings(pairings: list[dict]) -> None:
    """The waiting pairing requests; what the anonymous asker wrote (label,
    app version, device id) is printed with control characters escaped."""
    if not pairings:
        print("no pairing requests waiting")
        return
    for p in pairings:
        print(f"{p['user_code']}  {visible_text(p['device_id'])}  {visible_text(p['label'])}  "
              f"app {visible_text(p['app_version']) or '?'}  expires {p['expires_at']}")
        if p["already_active"]:
            print("  ALREADY ACTIVE: a paired device has this id; approving gives it a new secret and locks out "
                  "the tablet holding the current one (approve --replace-active only if it was reset or replaced)")


def _export(engine: Engine, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from server.export import ExportRange, write_csv, write_xlsx

    chosen = ExportRange(args.first, args.last)
    if args.format == "xlsx":
        if not args.out:
            parser.error("--format xlsx needs --out FILE")
        count = write_xlsx(engine, args.out, chosen)
    else:
        # A long range is written by one process per core (at most four).
        workers = min(4, os.cpu_count() or 1)
        if args.out:
            with open(args.out, "wb") as fh:
                count = write_csv(engine, fh, chosen, workers=workers)
        else:
            count = write_csv(engine, sys.stdout.buffer, chosen, workers=workers)
        sys.stdout.buffer.flush()
    if args.out:
        print(f"{count} ratings written to {args.out}", file=sys.stderr)
    return 0


def _archive(engine: Engine, code: str, out: str, parser: argparse.ArgumentParser) -> int:
    from server.evidence import make_archive
    from server.reports import parse_period
    from server.settings import load_settings

    try:
        period = parse_period(code, load_settings(engine).zone)
    except ValueError:
        parser.error(f"--period: not a period: {code!r} (e.g. 2026-H1, 2026, 2026-03)")
    made = make_archive(engine, period, out)
    print(f"archive {made.code} written to {out}: {made.ratings} ratings, sha256 {made.sha256}")
    for check in made.flagged:
        problem = check.get("first_problem") or {}
        where = f" first at record {problem['seq']}: {problem['problem']}" if problem else ""
        print(f"chain check FLAGGED: device {check['device_id']} ({visible_text(check.get('label'))}){where}")
    if not made.flagged:
        print("chain check: every device intact")
    return 0


def _verify_archive(path: str) -> int:
    from server.evidence import verify_archive

    check = verify_archive(path)
    for name, good in check.checked.items():
        print(f"{name}: {'OK' if good else 'FAILED'}")
    for name in check.missing:
        print(f"{name}: MISSING")
    for name in check.unlisted:
        print(f"{name}: NOT IN THE MANIFEST")
    if check.problem:
        print(f"archive not checked: {check.problem}", file=sys.stderr)
    print("archive verified" if check.ok else "archive FAILED verification")
    return 0 if check.ok else 1


def _backup_or_restore(args: argparse.Namespace) -> int:
    from server.backup import BackupError, backup_database, restore_database

    try:
        if args.command == "backup":
            copy = backup_database(args.db, args.out)
            print(f"backup written: {copy.path} ({copy.size_bytes} bytes, {copy.devices} devices, "
                  f"{copy.ratings} ratings, integrity ok)")
        else:
            restored = restore_database(args.db, args.source, force=args.force)
            copy = restored.snapshot
            print(f"restored: {copy.path} ({copy.devices} devices, {copy.ratings} ratings, integrity ok)")
            if restored.replaced_kept_at:
                print(f"the replaced database is kept as {restored.replaced_kept_at}")
    except BackupError as exc:
        print(f"{args.command} refused: {exc}", file=sys.stderr)
        return 2
    return 0


def _create_admin(db: str, username: str, display_name: str | None, *, from_stdin: bool) -> int:
    """Create an admin account; the password is asked twice (or read once from stdin)."""
    from server.accounts import AccountBook, AccountError, Role

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            print("the two passwords differ; nothing created", file=sys.stderr)
            return 2
    try:
        account = AccountBook(open_engine(db)).create(username, password, Role.ADMIN, display_name=display_name)
    except AccountError as exc:
        print(f"account not created: {exc.detail}", file=sys.stderr)
        return 2
    print(f"admin account created: {account.username}")
    return 0


def _print_devices(devices: list[dict], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(devices, ensure_ascii=False, indent=2))
        return
    if not devices:
        print("no devices paired yet")
        return
    for d in devices:
        offset = "unknown" if d["clock_offset_s"] is None else f"{d['clock_offset_s']:+.1f} s"
        # Label and app version came with an anonymous pairing request: escaped.
        reason = f" ({visible_text(d['revoked_reason'])})" if d["revoked_reason"] else ""
        print(f"{visible_text(d['device_id'])}  {visible_text(d['label'])}")
        print(f"  status: {d['status']}{reason}"
              f"   app: {visible_text(d['app_version']) or '?'}   last seen: {d['last_seen_at'] or 'never'}")
        print(f"  records: {d['records_count']} (last seq {d['last_seq']})   pending on tablet: "
              f"{d['pending_count'] if d['pending_count'] is not None else '?'}")
        print(f"  clock offset: {offset}{'  CLOCK OFF' if d['clock_off'] else ''}   chain: {d['chain_status']}"
              f"   findings: {d['findings_count']}")
        for f in d["findings"][:20]:
            resolved = f" (resolved {f['resolved_at']})" if f.get("resolved_at") else ""
            print(f"    - seq {f['seq']}: {f['problem']} — {f['detail']}{resolved}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m server``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        return _command(argv)
    return _serve(argv)


if __name__ == "__main__":
    sys.exit(main())
