using Agents.Testing;

namespace Agents.Governance.Tests;

public sealed class ApiDocumentTests : ServiceApiDocumentTests<Program>;
