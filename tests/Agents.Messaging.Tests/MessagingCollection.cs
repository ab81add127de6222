namespace Agents.Messaging.Tests;

/// <summary>
/// The messaging test classes run one after another (tests within a class already do): on two
/// shared cores, parallel hosts would make the deadlines and the timing assertions flaky.
/// </summary>
[CollectionDefinition(Name)]
public sealed class MessagingCollection
{
    public const string Name = "messaging";
}
