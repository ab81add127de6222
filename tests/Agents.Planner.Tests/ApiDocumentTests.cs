using Agents.Testing;

namespace Agents.Planner.Tests;

public sealed class ApiDocumentTests : ServiceApiDocumentTests<Program>;
