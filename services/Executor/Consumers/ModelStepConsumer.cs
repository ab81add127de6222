using System.Diagnostics;
using Agents.Contracts;
using Agents.Executor.Telemetry;
using MassTransit;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agents.Executor.Consumers;

/// <summary>
/// The executor's model worker: runs one model step on the "executor" chat client with bounded output tokens
/// and answers with <see cref="ModelStepCompleted"/> (usage and cost included). A failed model call is an
/// answer too (the saga decides about retries); only shutdown aborts.
/// </summary>
public sealed class ModelStepConsumer(
    [FromKeyedServices(ModelStepConsumer.ChatClientKey)] IChatClient chat,
    IOptions<ExecutorOptions> options,
    TimeProvider time,
    ILogger<ModelStepConsumer> logger) : IConsumer<RunModelStep>
{
    public const string ChatClientKey = "executor";

    public async Task Consume(ConsumeContext<RunModelStep> context)
    {
        var message = context.Message;
        using var activity = ExecutorTelemetry.StartModelStep(message.TaskId, message.StepId);
        var started = time.GetTimestamp();
        var chatOptions = new ChatOptions { MaxOutputTokens = Math.Clamp(message.MaxOutputTokens, 1, options.Value.MaxOutputTokens) };
        ModelStepCompleted answer;
        try
        {
            var response = await chat.GetResponseAsync(
                [new ChatMessage(ChatRole.System, message.SystemPrompt), new ChatMessage(ChatRole.User, message.Prompt)],
                chatOptions,
                context.CancellationToken);
            var cost = ReadCost(response);
            answer = new ModelStepCompleted(
                message.TaskId,
                message.StepId,
                message.Attempt,
                true,
                response.Text,
                null,
                response.ModelId,
                (int)(response.Usage?.InputTokenCount ?? 0),
                (int)(response.Usage?.OutputTokenCount ?? 0),
                cost,
                time.GetElapsedTime(started).TotalMilliseconds);
            ExecutorTelemetry.RecordCost(cost, response.ModelId);
        }
        catch (Exception ex) when (!context.CancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Model step {StepId} of task {TaskId} failed", message.StepId, message.TaskId);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            answer = new ModelStepCompleted(
                message.TaskId, message.StepId, message.Attempt, false, null, ex.Message, null, 0, 0, 0m, time.GetElapsedTime(started).TotalMilliseconds);
        }

        activity?.SetTag("gen_ai.usage.input_tokens", answer.InputTokens);
        activity?.SetTag("gen_ai.usage.output_tokens", answer.OutputTokens);
        await context.RespondAsync(answer);
    }

    /// <summary>The cost the models library attaches to a response (additional property "cost"); 0 when absent.</summary>
    internal static decimal ReadCost(ChatResponse response)
    {
        if (response.AdditionalProperties is null || !response.AdditionalProperties.TryGetValue("cost", out var value))
        {
            return 0m;
        }

        return value switch
        {
            decimal d => d,
            double d => (decimal)d,
            float f => (decimal)f,
            long l => l,
            int i => i,
            string s when decimal.TryParse(s, System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture, out var d) => d,
            _ => 0m,
        };
    }
}
