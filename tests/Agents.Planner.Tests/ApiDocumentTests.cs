using Agents.Testing;

namespace Agents.Planner.Tests;

[Trait("Category", "Infrastructure")]
public sealed class ApiDocumentTests : ServiceApiDocumentTests<Program>;
