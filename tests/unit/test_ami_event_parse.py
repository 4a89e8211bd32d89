"""Events read the fast way are the very Messages panoramisk's from_line makes of them."""

from __future__ import annotations

import pytest
from panoramisk.message import Message

from callcenter.asterisk.ami_link import event_message

BLOCKS = [
    "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/callers-00000001\r\n"
    "CallerIDNum: 13800138000\r\nCallerIDName: <unknown>\r\nUniqueid: 1796.1\r\n"
    "Linkedid: 1796.1\r\nTimestamp: 1796681404.123456",
    "Event: UserEvent\r\nUserEvent: CallerQueued\r\nQueue: q1\r\nSkills: a:1;b:2\r\nEmpty: ",
    "Event: VarSet\r\nChanVariable: A=1\r\nChanVariable: B=two: words\r\nChanVariable: C=",
    "Event: AsyncAGIExec\r\nResult: 200%20result%3D1%0A\r\nCommandId: 42",
    "Event: CoreShowChannel\r\nActionID: cc-7\r\nChannel: PJSIP/agent1001-00000002\r\n"
    "BridgeId: 5f2e\r\nApplication: BridgeWait\r\nline without a colon",
]


@pytest.mark.parametrize("block", BLOCKS)
def test_an_event_reads_as_from_line_reads_it(block: str) -> None:
    fast, slow = event_message(block), Message.from_line(block)
    assert isinstance(fast, Message)
    assert dict(fast.items()) == dict(slow.items())
    assert list(fast) == list(slow)
    assert (fast.id, fast.action_id, fast.content) == (slow.id, slow.action_id, slow.content)
    assert fast["EVENT"] == slow["event"] and fast.missing == "" and "event" in fast
    assert fast.get("Missing", "x") == slow.get("Missing", "x") == "x"
    assert fast.get("EVENT") == slow.get("EVENT") and fast.get("content") == ""
