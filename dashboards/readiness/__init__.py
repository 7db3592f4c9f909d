"""The go-live readiness report: per commune, pass/fail and the measured value against each
requirement of ``central.yaml`` ``readiness:``; per province, the share of communes ready and
why the others are not. Data: InfluxDB, through InfluxQL (``queries``)."""
