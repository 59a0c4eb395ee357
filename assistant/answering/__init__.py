"""The query side: retrieval, answerability, extractive and generative answers, citations, guard, LLM."""
