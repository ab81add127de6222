namespace Agents.Deployment.Tests;

internal static class Problems
{
    /// <summary>Fails with every problem on its own line, so one run names everything that is missing.</summary>
    public static void AssertNone(IEnumerable<string> problems)
    {
        var list = problems.ToList();
        if (list.Count > 0)
        {
            Assert.Fail($"{list.Count} deployment problem(s):{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", list)}");
        }
    }
}
