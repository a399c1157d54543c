import json
import logging

from backend.logs import JsonFormatter


def test_one_json_object_per_line_with_ids():
    record = logging.makeLogRecord(
        {
            "name": "backend.workflow",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "task.completed",
            "instance_id": 7,
            "task_id": "abc",
            "actor": "审核员",
        }
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["event"] == "task.completed"
    assert (entry["instance_id"], entry["task_id"], entry["actor"]) == (7, "abc", "审核员")
    assert entry["level"] == "info" and entry["ts"].endswith("+00:00")
