using Agents.Contracts;
using MassTransit;
using static Agents.Planner.Tests.TestData;

namespace Agents.Planner.Tests;

[Collection(PlannerCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class PublishedResponseTests(PlannerFixture fixture)
{
    [Fact]
    public async Task Published_CreatePlan_without_response_address_publishes_PlanCreated_and_PlanRejected()
    {
        var created = new TaskCompletionSource<PlanCreated>(TaskCreationOptions.RunContinuationsAsynchronously);
        var rejected = new TaskCompletionSource<PlanRejected>(TaskCreationOptions.RunContinuationsAsynchronously);
        var good = Template(Principal("tenant-pub"), "lookup-and-summarize", new() { ["customerId"] = "C-9" });
        var bad = Template(Principal("tenant-pub"), "missing-template", null);
        var handle = fixture.Bus.ConnectReceiveEndpoint("planner-test-observer", e =>
        {
            e.Handler<PlanCreated>(c =>
            {
                if (c.Message.TaskId == good.TaskId)
                {
                    created.TrySetResult(c.Message);
                }

                return Task.CompletedTask;
            });
            e.Handler<PlanRejected>(c =>
            {
                if (c.Message.TaskId == bad.TaskId)
                {
                    rejected.TrySetResult(c.Message);
                }

                return Task.CompletedTask;
            });
        });
        try
        {
            await handle.Ready.WaitAsync(TimeSpan.FromSeconds(20));

            // As the executor's saga does: publish, then correlate the published answer by TaskId.
            await fixture.Bus.Publish(good);
            await fixture.Bus.Publish(bad);

            Assert.Equal(3, (await created.Task.WaitAsync(TimeSpan.FromSeconds(20))).Plan.Steps.Count);
            Assert.Equal("unknown template 'missing-template'", (await rejected.Task.WaitAsync(TimeSpan.FromSeconds(20))).Reason);
        }
        finally
        {
            await handle.StopAsync();
        }
    }
}
