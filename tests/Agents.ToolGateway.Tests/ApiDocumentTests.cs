using Agents.Testing;

namespace Agents.ToolGateway.Tests;

[Trait("Category", "Infrastructure")]
public sealed class ApiDocumentTests : ServiceApiDocumentTests<Program>;
