using System.Diagnostics;
using Agents.Contracts;
using Agents.Executor.Telemetry;
using Agents.Models;
using MassTransit;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agents.Executor.Consumers;

/// <summary>
/// The executor's model worker: runs one model step on the "executor" chat client (<c>Models:Executor</c>, see
/// Agents.Models) with bounded output tokens and answers with <see cref="ModelStepCompleted"/> (tokens and cost from
/// the response's <see cref="ModelUsage"/>). A failed model call is an
/// answer too (the saga decides about retries); only shutdown aborts.
/// </summary>
public sealed class ModelStepConsumer(
    [FromKeyedServices(ModelStepConsumer.ChatClientKey)] IChatClient chat,
    IOptions<ExecutorOptions> options,
    TimeProvider time,
    ILogger<ModelStepConsumer> logger) : IConsumer<RunModelStep>
{
    public const string ChatClientKey = ModelRoles.Executor;

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
            // The models library attaches usage and cost to every response of a role's client; a client built
            // without its pipeline (none in the service) falls back to the provider's token counts at no cost.
            var usage = response.GetModelUsage();
            var cost = usage?.Cost ?? 0m;
            var model = usage?.Model ?? response.ModelId;
            answer = new ModelStepCompleted(
                message.TaskId,
                message.StepId,
                message.Attempt,
                true,
                response.Text,
                null,
                model,
                (int)(usage?.InputTokens ?? response.Usage?.InputTokenCount ?? 0),
                (int)(usage?.OutputTokens ?? response.Usage?.OutputTokenCount ?? 0),
                cost,
                time.GetElapsedTime(started).TotalMilliseconds);
            ExecutorTelemetry.RecordCost(cost, model);
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
}
