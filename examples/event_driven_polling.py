"""The seed's event-driven agent: it polls get_context every second. Adapted from
Syntha by the imports and by one fix: it reacts to changes only, not to every item
each poll, nor to what an earlier run left in the shared mesh. See
event_driven_agent.py for the same agent reacting to the mesh's change feed instead
of polling.
"""

import asyncio
import os
from typing import Any, Dict, List

from syntha_redis import ContextMesh, ToolHandler


class EventDrivenAgent:
    """Agent that responds to context changes."""

    def __init__(self, user_id: str, agent_name: str):
        self.context = ContextMesh(user_id=user_id)
        self.handler = ToolHandler(self.context, agent_name)
        self.running = False
        self.seen: Dict[str, Any] = {}  # the context as last polled

    def changes(self) -> Dict[str, Any]:
        """The items new or changed since the last poll."""
        result = self.handler.handle_tool_call("get_context")
        if not result["success"]:
            return {}
        now = result["context"]
        changed = {k: v for k, v in now.items() if k not in self.seen or self.seen[k] != v}
        self.seen = now
        return changed

    async def start_monitoring(self, topics: List[str]):
        """Start monitoring topics for changes."""
        self.handler.handle_tool_call("subscribe_to_topics", topics=topics)
        self.running = True
        # the mesh outlives this process: what it holds now is not a change
        self.changes()

        while self.running:
            # Poll for new context
            await self.process_context_changes(self.changes())
            await asyncio.sleep(1)  # Poll every second

    async def process_context_changes(self, context_data):
        """Process context changes and react accordingly."""
        for key, value in context_data.items():
            if key.startswith("urgent_"):
                await self.handle_urgent_item(key, value)
            elif key.startswith("task_"):
                await self.handle_task(key, value)

    async def handle_urgent_item(self, key, value):
        """Handle urgent items immediately."""
        print(f"Processing urgent item: {key}")
        # Escalate or take immediate action

    async def handle_task(self, key, value):
        """Handle regular tasks."""
        print(f"Processing task: {key}")
        # Normal task processing

    def stop(self):
        """Stop monitoring."""
        self.running = False
        self.context.close()


async def main():
    agent = EventDrivenAgent("example-polling", "Responder")
    monitor = asyncio.create_task(agent.start_monitoring(["alerts"]))
    await asyncio.sleep(0.1)
    run = os.getpid()  # each run pushes new values, which are changes
    agent.context.push("urgent_outage", f"db down (run {run})", topics=["alerts"])
    agent.context.push("task_followup", f"write postmortem (run {run})", topics=["alerts"])
    await asyncio.sleep(1.2)
    agent.stop()
    await monitor


if __name__ == "__main__":
    asyncio.run(main())
