"""Statistics (policy 3.2.3): aggregated, depersonalised figures for managers and supervisors, each a CSV too."""
from flask import Response, abort, request
from flask_admin import expose

from ..permissions import STATISTICS_READ
from ..services import csvstream, statistics
from .base import ProtectedView
from .charts import geometry


def _months():
    value = request.args.get("months", type=int)
    if value is None:
        return statistics.DEFAULT_MONTHS
    return max(1, min(value, statistics.MAX_MONTHS))


class StatisticsView(ProtectedView):
    roles_read = STATISTICS_READ

    @expose("/")
    def index(self):
        months = _months()
        charts = statistics.all_charts(months)
        return self.render("admin/statistics.html", charts=[(c, geometry(c)) for c in charts], months=months,
                           month_choices=(3, 6, 12, 24, 36))

    @expose("/csv/<key>")
    def download(self, key):
        if key not in statistics.CHARTS:
            abort(404)
        months = _months()
        chart = statistics.download(key, months)
        return Response(csvstream.byte_chunks(chart.header(), chart.csv_rows()), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename=statistics-{key}-{months}m.csv"})
