using Agents.Testing;

namespace Agents.ToolGateway.Tests;

public sealed class ApiDocumentTests : ServiceApiDocumentTests<Program>;
