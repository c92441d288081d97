"""The seed's microservices: two services of one user share context through the mesh.
Adapted from Syntha only by the imports. The database comes from SYNTHA_DB_URL
(or DATABASE_URL), since the seed's services name none.
"""

import json

from syntha_redis import ContextMesh, ToolHandler


# service_a.py - Sales Service
class SalesService:
    def __init__(self, user_id: str):
        self.context = ContextMesh(user_id=user_id,
                                   enable_persistence=True,
                                   db_backend="postgresql")
        self.agent = ToolHandler(self.context, "SalesService")

        # Subscribe to relevant topics
        self.agent.handle_tool_call("subscribe_to_topics",
                                    topics=["sales", "customers", "deals"])

    def process_deal(self, deal_data):
        # Process the deal
        result = self.agent.handle_tool_call("push_context",
                                             key=f"deal_{deal_data['id']}",
                                             value=json.dumps(deal_data),
                                             topics=["sales", "deals"])
        return result


# service_b.py - Analytics Service
class AnalyticsService:
    def __init__(self, user_id: str):
        self.context = ContextMesh(user_id=user_id,
                                   enable_persistence=True,
                                   db_backend="postgresql")
        self.agent = ToolHandler(self.context, "AnalyticsService")

        # Subscribe to data sources
        self.agent.handle_tool_call("subscribe_to_topics",
                                    topics=["sales", "deals", "analytics"])

    def generate_report(self):
        # Get all relevant data
        context_data = self.agent.handle_tool_call("get_context")

        # Process and generate report
        report = self.process_data(context_data["context"])

        # Share the report
        self.agent.handle_tool_call("push_context",
                                    key="monthly_report",
                                    value=json.dumps(report),
                                    topics=["analytics", "reports"])
        return report


class ReportingAnalyticsService(AnalyticsService):
    """The seed leaves process_data to the reader; this is one."""

    def process_data(self, context):
        deals = [v for k, v in context.items() if k.startswith("deal_")]
        return {"deals": len(deals), "total": sum(d["amount"] for d in deals)}


if __name__ == "__main__":
    sales = SalesService("example-microservices")
    analytics = ReportingAnalyticsService("example-microservices")
    print("pushed:", sales.process_deal({"id": 7, "amount": 1200})["success"])
    print("pushed:", sales.process_deal({"id": 8, "amount": 800})["success"])
    print("report:", analytics.generate_report())
    # the report went to 'analytics' and 'reports', which SalesService does not follow
    print("sales sees the report:", sales.context.get("monthly_report", "SalesService"))
    analytics.context.db_backend.flush()  # snapshots stream asynchronously by default
    print("stored durably:", sorted(analytics.context.db_backend.get_all_context_items()))
    sales.context.close()
    analytics.context.close()
