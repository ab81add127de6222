using Agents.Testing;

namespace Agents.Memory.Tests;

[Trait("Category", "Infrastructure")]
public sealed class ApiDocumentTests : ServiceApiDocumentTests<Program>;
