"""Operations statistics: records, KPI figures, report intervals and Erlang C staffing.

A pure package: it does no I/O and reads no clock. Live figures and historical reports are
both computed from the same records (:mod:`.model`) by the same code (:mod:`.kpi`).
"""
