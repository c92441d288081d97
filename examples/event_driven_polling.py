"""The seed's event-driven agent as written: it polls get_context every second.
Adapted from Syntha only by the imports. See event_driven_agent.py for the same
agent reacting to the mesh's change feed instead of polling.
"""

import asyncio
from typing import List

from syntha_redis import ContextMesh, ToolHandler


class EventDrivenAgent:
    """Agent that responds to context changes."""

    def __init__(self, user_id: str, agent_name: str):
        self.context = ContextMesh(user_id=user_id)
        self.handler = ToolHandler(self.context, agent_name)
        self.running = False

    async def start_monitoring(self, topics: List[str]):
        """Start monitoring topics for changes."""
        self.handler.handle_tool_call("subscribe_to_topics", topics=topics)
        self.running = True

        while self.running:
            # Poll for new context
            result = self.handler.handle_tool_call("get_context")

            if result["success"]:
                await self.process_context_changes(result["context"])

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
    agent.context.push("urgent_outage", "db down", topics=["alerts"])
    agent.context.push("task_followup", "write postmortem", topics=["alerts"])
    await asyncio.sleep(1.2)
    agent.stop()
    await monitor


if __name__ == "__main__":
    asyncio.run(main())
