def user_group(user_id: int) -> str:
    return f"user.{user_id}"
