"""The `flask` commands, one module per group; `register_cli` adds them all to the app."""
from . import audit, bench, demo, documents, jobs, mail, periodic, staff, systems

COMMANDS = (
    demo.demo_command, demo.seed_demo_command, staff.create_user_command, audit.audit_verify_command,
    bench.bench_data_command, jobs.worker_command, jobs.reconcile_command, jobs.cleanup_exports_command,
    documents.certificate_verify_command,
    mail.mail_import_command, mail.mail_poll_command, mail.mail_send_command,
    periodic.periodic_command,
    systems.systems_group,
)


def register_cli(app):
    for command in COMMANDS:
        app.cli.add_command(command)
