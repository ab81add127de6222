using Agents.Messaging.Data;

namespace Agents.Executor.Data;

/// <summary>Lets <c>dotnet ef</c> create migrations without starting the service.</summary>
internal sealed class ExecutorDbContextFactory() : LocalDesignTimeFactory<ExecutorDbContext>("agents_executor");
