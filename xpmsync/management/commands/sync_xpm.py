from django.core.management.base import BaseCommand, CommandError

from accounts.models import Firm
from xpmsync import tasks
from xpmsync.models import SyncRun


class Command(BaseCommand):
    help = "Queue a sync of a firm's clients from Xero Practice Manager (by firm id or name)."

    def add_arguments(self, parser):
        parser.add_argument("firm", help="The firm's id or exact name.")

    def handle(self, *args, firm, **options):
        query = {"pk": int(firm)} if firm.isdigit() else {"name": firm}
        try:
            target = Firm.objects.get(**query)
        except Firm.DoesNotExist as error:
            raise CommandError(f"No firm {firm!r}.") from error
        try:
            run = tasks.request_sync(target, trigger=SyncRun.Trigger.MANUAL)
        except tasks.SyncAlreadyRunning as running:
            state = running.run.status if running.run else "queued or running"
            raise CommandError(f"A sync is already {state} for {target}.") from None
        except (tasks.NotConnected, tasks.QueueUnavailable) as error:
            raise CommandError(str(error)) from error
        run.refresh_from_db()
        self.stdout.write(f"Sync run {run.pk} for {target}: {run.get_status_display()}.")
        if run.error:
            self.stdout.write(run.error)
