using Agents.Testing;

namespace Agents.Memory.Tests;

public sealed class ApiDocumentTests : ServiceApiDocumentTests<Program>;
