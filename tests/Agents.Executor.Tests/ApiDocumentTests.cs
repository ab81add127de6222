using Agents.Testing;

namespace Agents.Executor.Tests;

[Trait("Category", "Infrastructure")]
public sealed class ApiDocumentTests : ServiceApiDocumentTests<Program>;
