using Agents.Testing;

namespace Agents.Executor.Tests;

public sealed class ApiDocumentTests : ServiceApiDocumentTests<Program>;
