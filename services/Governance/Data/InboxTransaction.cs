namespace Agents.Governance.Data;

/// <summary>Guards for work that must run inside the durable-messaging inbox transaction of a consumer.</summary>
internal static class InboxTransaction
{
    /// <summary>
    /// Throws unless <paramref name="db"/> is in a transaction: consumers run in the inbox transaction
    /// (opened by <c>AddAgentsDurableMessaging</c>), which also stores their responses and commits both.
    /// </summary>
    public static void Require(GovernanceDbContext db, string work)
    {
        if (db.Database.CurrentTransaction is null)
        {
            throw new InvalidOperationException($"{work} runs inside the consumer's inbox transaction (durable messaging), which commits it with its outgoing messages.");
        }
    }
}
