using Agents.Messaging.Data;

namespace Agents.Planner.Data;

/// <summary>Lets <c>dotnet ef</c> build the model without starting the service.</summary>
internal sealed class PlannerDbContextFactory() : LocalDesignTimeFactory<PlannerDbContext>("agents_planner");
