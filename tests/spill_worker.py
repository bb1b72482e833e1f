"""A process that predicts for ever into a prediction log, for the kill -9 test (test_prediction_spill).

``python spill_worker.py URL SPILL_DIR FLUSH_INTERVAL``: submits one entry every 2 ms and prints
its prediction id once ``submit`` returned (the moment the API would answer), until killed.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

from attrition.db.engine import create_db_engine
from attrition.db.models import utcnow
from attrition.schema import EXAMPLE_RECORD
from attrition.serving.prediction_log import PredictionLog


def main(url: str, spill_dir: str, flush_interval: float) -> None:
    log = PredictionLog(
        create_db_engine(url), flush_interval=flush_interval, max_backoff=0.5, spill_dir=Path(spill_dir)
    ).start()
    number = 0
    while True:
        number += 1
        entry = {
            "prediction_id": str(uuid.uuid4()),
            "created_at": utcnow(),
            "employee_number": number,
            "model_name": "attrition-classifier",
            "model_version": "1",
            "probability": 0.25,
            "threshold": 0.3,
            "label": False,
            "risk_band": "medium",
            "inputs": {**EXAMPLE_RECORD, "EmployeeNumber": number},
            "source": "api",
        }
        log.submit(entry)
        sys.stdout.write(entry["prediction_id"] + "\n")
        sys.stdout.flush()
        time.sleep(0.002)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
