"""退回 / 撤回 across a step that carries boundary timers.

SpiffWorkflow 3.2.0's reset drops the later steps from the task tree but leaves their waiting
timers in the event manager; the next run then failed on the orphan (AttributeError in
_inherit_data). The adapter forgets them (engine/instance.py `_forget_removed_event_tasks`).
"""

import sqlalchemy as sa

from backend.workflow import service
from backend.workflow.deploy import deploy_files
from backend.workflow.models import HumanTask, ProcessInstance, Timer

from .conftest import FORMS_DIR

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="http://keyproject.gov.cn/bpmn/test">
  <bpmn:process id="timed_second_step" name="限时复核" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_fg" name="发改"><bpmn:flowNodeRef>submit</bpmn:flowNodeRef><bpmn:flowNodeRef>review</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="submit" name="申报"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formJsonSchemaFilename" value="review.json"/></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="review" name="审核"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formJsonSchemaFilename" value="review.json"/></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="remind" name="到期提醒" attachedToRef="review" cancelActivity="false"><bpmn:outgoing>f4</bpmn:outgoing><bpmn:timerEventDefinition id="remind_def"><bpmn:timeDate>working_days_from_now(2)</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:scriptTask id="mark_reminded" name="记录提醒"><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing><bpmn:script>reminded = True</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="remind_end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="submit"/>
    <bpmn:sequenceFlow id="f2" sourceRef="submit" targetRef="review"/>
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end"/>
    <bpmn:sequenceFlow id="f4" sourceRef="remind" targetRef="mark_reminded"/>
    <bpmn:sequenceFlow id="f5" sourceRef="mark_reminded" targetRef="remind_end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _open(session, instance_id):
    session.expire_all()
    return session.scalars(sa.select(HumanTask).filter_by(instance_id=instance_id, state="open")).all()


def _start(session):
    deploy_files(
        session=session, files={"timed_second_step.bpmn": DIAGRAM}, forms_dir=FORMS_DIR, deployed_by="test"
    )
    instance = service.start_instance(session=session, process_key="timed_second_step", data={})
    (submit,) = _open(session, instance.id)
    service.complete_task(session=session, task_id=submit.id, data={"approved": True}, actor="li")
    session.commit()
    (review,) = _open(session, instance.id)
    assert review.element_id == "review"
    assert session.get(Timer, instance.id) is not None  # the reminder waits
    return instance.id, submit.id, review.id


def test_withdraw_over_a_step_with_a_waiting_timer(session, deployed):
    instance_id, submit_id, review_id = _start(session)
    service.withdraw_task(session=session, task_id=submit_id, actor="li", reason="补充材料")
    session.commit()
    assert [(t.id, t.element_id) for t in _open(session, instance_id)] == [(submit_id, "submit")]
    assert session.get(HumanTask, review_id).state == "cancelled"
    assert session.get(Timer, instance_id) is None  # the dropped step's timer is gone too
    # And the flow runs on: the step comes again with a fresh timer.
    service.complete_task(session=session, task_id=submit_id, data={"approved": True}, actor="li")
    session.commit()
    assert [t.element_id for t in _open(session, instance_id)] == ["review"]
    assert session.get(Timer, instance_id) is not None


def test_return_from_a_step_with_a_waiting_timer(session, deployed):
    instance_id, submit_id, review_id = _start(session)
    service.return_task(
        session=session, task_id=review_id, to_task_id=submit_id, actor="wang", reason="材料不全"
    )
    session.commit()
    assert [t.element_id for t in _open(session, instance_id)] == ["submit"]
    assert session.get(ProcessInstance, instance_id).state == "running"
    service.complete_task(session=session, task_id=submit_id, data={"approved": True}, actor="li")
    (again,) = _open(session, instance_id)
    service.complete_task(session=session, task_id=again.id, data={"approved": True}, actor="wang")
    session.commit()
    assert session.get(ProcessInstance, instance_id).state == "completed"
