using Agents.Testing;

namespace Agents.Governance.Tests;

[Trait("Category", "Infrastructure")]
public sealed class ApiDocumentTests : ServiceApiDocumentTests<Program>;
